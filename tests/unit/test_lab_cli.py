"""`play lab up --no-docker` and `--fresh`: the options reach the lab, its state survives a
reload, and status shows the hosts without a Docker engine as ok (no root, no lab needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import engine.lab
from engine.cli import main
from engine.lab import LabHost, LabStatus, format_status
from engine.lab.proc import Process
from engine.lab.state import HostRecord, LabState, load_state, save_state


def fake_up(calls: list[dict[str, Any]]) -> Any:
    def lab_up(count: int, inventory_path: Path, has_docker: bool = True,
               is_fresh: bool = False) -> LabStatus:
        calls.append({"count": count, "has_docker": has_docker, "is_fresh": is_fresh})
        return LabStatus((), registry_alive=True, state_dir="/tmp/lab")
    return lab_up


@pytest.mark.parametrize(("arguments", "has_docker", "is_fresh"), [
    (["--hosts", "50", "--no-docker"], False, False),
    (["--hosts", "2"], True, False),
    (["--hosts", "2", "--fresh"], False, True),
])
def test_up_passes_the_host_kind_to_the_lab(monkeypatch: pytest.MonkeyPatch,
                                            arguments: list[str], has_docker: bool,
                                            is_fresh: bool) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(engine.lab, "lab_up", fake_up(calls))
    assert main(["lab", "up", *arguments]) == 0
    assert calls == [{"count": int(arguments[1]), "has_docker": has_docker,
                      "is_fresh": is_fresh}]


def test_no_docker_and_fresh_are_only_options_of_up() -> None:
    assert main(["lab", "down", "--no-docker"]) == 4
    assert main(["lab", "down", "--fresh"]) == 4


def test_fresh_and_no_docker_together_are_refused() -> None:
    assert main(["lab", "up", "--fresh", "--no-docker"]) == 4


def test_fresh_host_is_remembered_with_its_init(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    record = HostRecord(1, None, Process(10, 20), has_docker=False, init=Process(9, 19),
                        is_fresh=True)
    save_state(state_file, LabState({1: record}, mirror=Process(30, 40)))
    loaded = load_state(state_file)
    assert loaded.hosts[1] == record
    assert loaded.hosts[1].kind == "fresh"
    assert loaded.mirror == Process(30, 40)


def test_sshd_only_host_is_remembered_and_shown_ok(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    save_state(state_file, LabState({1: HostRecord(1, None, Process(10, 20), has_docker=False),
                                     2: HostRecord(2, Process(11, 21), Process(12, 22))}))
    hosts = load_state(state_file).hosts
    assert (hosts[1].has_docker, hosts[2].has_docker) == (False, True)
    status = LabStatus((LabHost("lab1", "10.250.0.11", True, False, has_docker=False),),
                       registry_alive=True, state_dir=str(tmp_path))
    line = format_status(status).splitlines()[1]
    assert line.split() == ["lab1", "10.250.0.11", "up", "-", "ok"]
