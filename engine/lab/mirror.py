"""The lab's package mirror: the cached .debs served over HTTP on the bridge address.

It is every host's only apt source (`deb [trusted=yes] http://10.250.0.1:3142 ./`),
so hosts install packages without reaching the internet, as an air-gapped fleet would.
"""

from __future__ import annotations

import sys
from pathlib import Path

from engine.lab.layout import BRIDGE_ADDRESS, MIRROR_PORT, LabPaths
from engine.lab.proc import Process, start_server


def start_mirror(paths: LabPaths, mirror: Path) -> Process:
    argv = [sys.executable, "-m", "http.server", "--bind", BRIDGE_ADDRESS,
            "--directory", str(mirror), str(MIRROR_PORT)]
    return start_server(argv, "the lab package mirror", paths.mirror_pidfile,
                        paths.mirror_log, BRIDGE_ADDRESS, MIRROR_PORT)
