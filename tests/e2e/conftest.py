"""The session-wide lab: three real hosts brought up once for all end-to-end tests.

Tests reach the hosts the way a user does, with the OpenSSH client, the lab key
and the lab known_hosts file. The lab is taken down when the session ends.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from lab_client import LAB_HOSTS, Lab, lab_from_inventory

from engine.lab import lab_down, lab_up


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "lab_teardown: takes the session lab down; runs after every other test"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # There is one lab per machine: the test that takes it down must come last.
    items.sort(key=lambda item: item.get_closest_marker("lab_teardown") is not None)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.fail(
            "the lab end-to-end tests need root (network namespaces, sshd, dockerd): "
            "run them with sudo, or deselect them with -m 'not lab'",
            pytrace=False,
        )
    inventory = tmp_path_factory.mktemp("inventory") / "lab.yml"
    # While developing, PLAY_TEST_KEEP_LAB=1 reuses a running lab and leaves it up
    # (deselect the teardown test with -m 'not lab_teardown'); CI never sets it.
    keep = os.environ.get("PLAY_TEST_KEEP_LAB") == "1"
    try:
        lab_up(LAB_HOSTS, inventory)
        yield lab_from_inventory(inventory)
    finally:
        if not keep:
            lab_down()


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


@pytest.fixture(scope="session")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real single-member etcd on loopback (free ports, its own data dir); yields its
    client URL. Stopped by its PID when the session ends."""
    binary = shutil.which("etcd")
    if binary is None:
        pytest.fail("the etcd tests need etcd (Debian package etcd-server; .ci/install "
                    "installs it)", pytrace=False)
    home = tmp_path_factory.mktemp("etcd")
    client, peer = f"http://127.0.0.1:{_free_port()}", f"http://127.0.0.1:{_free_port()}"
    argv = [binary, "--name", "play-test", "--data-dir", str(home / "data"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"play-test={peer}"]
    log_path = home / "etcd.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not _is_healthy(client):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"etcd did not become healthy; end of {log_path}:\n"
                            f"{_tail(log_path)}", pytrace=False)
            time.sleep(0.1)
        yield client
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tail(path: Path) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-20:])
