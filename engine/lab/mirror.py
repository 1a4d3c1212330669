"""The lab's package mirror: the cached .debs served over HTTP on the bridge address.

It is every host's only apt source (`deb [trusted=yes] http://10.250.0.1:3142 ./`),
so hosts install packages without reaching the internet, as an air-gapped fleet would.
"""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

from engine.lab.layout import BRIDGE_ADDRESS, MIRROR_PORT, LabPaths
from engine.lab.model import LabError
from engine.lab.proc import Process, log_tail, spawn_daemon, stop


def start_mirror(paths: LabPaths, mirror: Path) -> Process:
    argv = [sys.executable, "-m", "http.server", "--bind", BRIDGE_ADDRESS,
            "--directory", str(mirror), str(MIRROR_PORT)]
    server = spawn_daemon(
        argv, label="the lab package mirror", pidfile=paths.mirror_pidfile, log=paths.mirror_log
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if not server.is_alive():
            break
        if accepts(BRIDGE_ADDRESS, MIRROR_PORT):
            return server
        time.sleep(0.05)
    stop([server], grace=3)
    log = paths.mirror_log
    raise LabError(f"the lab package mirror did not start; end of {log}:\n{log_tail(log)}")


def accepts(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1):
            return True
    except OSError:
        return False
