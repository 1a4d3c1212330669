"""A real etcd for the e2e tests: single member, loopback only, on free ports."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _is_healthy(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/health", timeout=1) as answer:
            return bool(json.load(answer).get("health") == "true")
    except (OSError, ValueError):
        return False


class EtcdServer:
    """A real single-member etcd on loopback (free ports, its own data dir), started and
    stopped by its PID; it can be stopped mid-test and started again on the same data."""

    def __init__(self, home: Path) -> None:
        binary = shutil.which("etcd")
        if binary is None:
            pytest.fail("the etcd tests need etcd (Debian package etcd-server; .ci/install "
                        "installs it)", pytrace=False)
        self.home = home
        self.client = f"http://127.0.0.1:{_free_port()}"
        peer = f"http://127.0.0.1:{_free_port()}"
        self.argv = [binary, "--name", "play-test", "--data-dir", str(home / "data"),
                     "--listen-client-urls", self.client, "--advertise-client-urls",
                     self.client, "--listen-peer-urls", peer,
                     "--initial-advertise-peer-urls", peer,
                     "--initial-cluster", f"play-test={peer}"]
        self.log_path = home / "etcd.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not _is_healthy(self.client):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"etcd did not become healthy; end of {self.log_path}:\n"
                            f"{_tail(self.log_path)}", pytrace=False)
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def _tail(path: Path) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-20:])
