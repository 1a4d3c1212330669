"""`play lab down` leaves nothing behind: no process, namespace, link, route, mount or data,
but the cached Debian roots and package mirror, built once per machine.

It takes down the session lab, so the collection hook in conftest.py runs it last.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from lab_client import Lab

from engine.lab import lab_down, lab_status
from engine.lab.layout import cache_dir

pytestmark = [pytest.mark.lab, pytest.mark.lab_teardown]


def ip(*argv: str) -> str:
    return subprocess.run(["ip", *argv], capture_output=True, text=True, check=True).stdout


def is_running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"  # a zombie has already exited


def lab_pids(state_dir: Path) -> set[int]:
    """Every daemon the state file names, and every process in a lab namespace."""
    state = json.loads((state_dir / "state.json").read_text())
    daemons = [host[role] for host in state["hosts"] for role in ("init", "dockerd", "sshd")]
    pids = {daemon["pid"] for daemon in [*daemons, state["registry"], state["mirror"]] if daemon}
    for netns in ip("netns", "list").split("\n"):
        if netns.startswith("playlab-"):
            pids |= {int(pid) for pid in ip("netns", "pids", netns.split()[0]).split()}
    return pids


def test_down_leaves_nothing_behind(lab: Lab) -> None:
    state_dir = lab.key.parent
    lab1 = lab.host("lab1")
    docker_run = ["docker", "run", "-d", "--network", "host", "--name", "e2e-down"]
    started = lab.run(lab1, *docker_run, "play-lab/busybox:latest", "httpd", "-f", "-p", "8080")
    assert started.returncode == 0, started.stderr
    pids = lab_pids(state_dir)
    assert len(pids) >= 2 * len(lab.hosts) + 1

    began = time.monotonic()
    lab_down()
    # A running container must not hold dockerd for its 10s stop timeout.
    assert time.monotonic() - began < 15

    assert [pid for pid in pids if is_running(pid)] == []
    assert "playlab-" not in ip("netns", "list")
    links = ip("-brief", "link")
    assert "playlab0" not in links
    assert " pl-lab" not in f" {links}"
    assert ip("route", "show", "10.250.0.0/16").strip() == ""
    assert ip("route", "show", "type", "blackhole", "10.250.0.0/16").strip() == ""
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(state_dir) not in mounts
    assert "playlab-" not in mounts
    assert not state_dir.exists()
    assert lab_status().hosts == ()
    assert {path.name.split("-")[1] for path in cache_dir().glob("root-*")} == {
        "docker", "fresh", "sshd"}


def test_down_when_already_down_is_quiet() -> None:
    lab_down()
    assert lab_status().hosts == ()
