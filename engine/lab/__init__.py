"""The local lab: N machine-like hosts on this machine, each with its own Debian root,
namespaces, sshd and Docker engine.

`play lab up | down | status` call these; see `lifecycle` for how it is done.
"""

from engine.lab.lifecycle import lab_down, lab_status, lab_up
from engine.lab.model import LabError, LabHost, LabStatus, format_status

__all__ = [
    "LabError",
    "LabHost",
    "LabStatus",
    "format_status",
    "lab_down",
    "lab_status",
    "lab_up",
]
