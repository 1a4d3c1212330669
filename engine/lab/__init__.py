"""The local lab: N real hosts on this machine, each with its own sshd, Docker engine and /srv.

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
