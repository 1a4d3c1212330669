"""The session-wide lab: three real hosts brought up once for all end-to-end tests.

Tests reach the hosts the way a user does, with the OpenSSH client, the lab key
and the lab known_hosts file. The lab is taken down when the session ends.
"""

from __future__ import annotations

import os
import shlex
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from deploys import Deploy, new_deploy, remove_deploy
from etcd_server import EtcdServer
from lab_client import LAB_HOSTS, Lab, lab_from_inventory

from engine.lab import lab_down, lab_up


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "lab_teardown: takes the session lab down; runs after every other test"
    )


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups (pyproject.toml's addopts)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # There is one lab per machine: the end-to-end tests run in one xdist worker, one after
    # another, and the test that takes the lab down comes last.
    for item in items:
        if "e2e" in item.path.parts:
            item.add_marker(pytest.mark.xdist_group("lab"))
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


@pytest.fixture
def srv_dir(lab: Lab) -> Iterator[str]:
    """A fresh directory name under each host's private /srv, removed afterwards (with
    sudo: steps under become leave root's files in it)."""
    path = f"/srv/e2e-{uuid.uuid4().hex[:8]}"
    yield path
    for host in lab.hosts:
        lab.sh(host, f"sudo -n rm -rf {shlex.quote(path)}")


@pytest.fixture
def deploy(lab: Lab, tmp_path: Path) -> Iterator[Deploy]:
    """This test's own deployment of containers.yml on the lab (tests/e2e/deploys.py)."""
    deployment = new_deploy(lab, tmp_path)
    try:
        yield deployment
    finally:
        remove_deploy(deployment)


@pytest.fixture(scope="session")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's etcd; yields its client URL."""
    server = EtcdServer(tmp_path_factory.mktemp("etcd"))
    try:
        server.start()
        yield server.client
    finally:
        server.stop()


@pytest.fixture
def etcd_server(tmp_path: Path) -> Iterator[EtcdServer]:
    """An etcd of this test's own, which the test may stop and start."""
    server = EtcdServer(tmp_path / "etcd")
    server.home.mkdir()
    try:
        server.start()
        yield server
    finally:
        server.stop()
