"""The lab's memory between commands: which hosts exist and the processes they run.

Saved as `state.json` in the state dir after every change, so `down` can stop
exactly what `up` started, even after an `up` that failed half way.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.lab.layout import DOCKER, FRESH, SSHD, host_address, host_name
from engine.lab.model import LabError
from engine.lab.proc import Process


@dataclass(frozen=True)
class HostRecord:
    index: int
    dockerd: Process | None = None
    sshd: Process | None = None
    has_docker: bool = True  # False: an sshd-only host (`play lab up --no-docker`) or a fresh one
    init: Process | None = None  # holds the host: its PID namespace ends with it
    is_fresh: bool = False  # a provider's fresh server (`play lab up --fresh`)

    @property
    def kind(self) -> str:
        return FRESH if self.is_fresh else DOCKER if self.has_docker else SSHD

    @property
    def name(self) -> str:
        return host_name(self.index)

    @property
    def address(self) -> str:
        return host_address(self.index)


@dataclass(frozen=True)
class LabState:
    hosts: dict[int, HostRecord] = field(default_factory=dict)
    registry: Process | None = None
    mirror: Process | None = None

    def with_host(self, record: HostRecord) -> LabState:
        return replace(self, hosts={**self.hosts, record.index: record})

    def without_host(self, index: int) -> LabState:
        return replace(self, hosts={i: r for i, r in self.hosts.items() if i != index})


def _process_to_json(proc: Process | None) -> dict[str, int] | None:
    return None if proc is None else {"pid": proc.pid, "started": proc.started}


def _process_from_json(value: Any) -> Process | None:
    if value is None:
        return None
    return Process(int(value["pid"]), int(value["started"]))


def load_state(path: Path) -> LabState:
    if not path.exists():
        return LabState()
    try:
        raw = json.loads(path.read_text())
        hosts = {
            int(entry["index"]): HostRecord(
                int(entry["index"]),
                _process_from_json(entry.get("dockerd")),
                _process_from_json(entry.get("sshd")),
                bool(entry.get("docker", True)),
                _process_from_json(entry.get("init")),
                bool(entry.get("fresh", False)),
            )
            for entry in raw.get("hosts", [])
        }
        return LabState(
            hosts, _process_from_json(raw.get("registry")), _process_from_json(raw.get("mirror"))
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise LabError(f"{path} is damaged ({exc}); remove it and run `play lab down`") from exc


def save_state(path: Path, state: LabState) -> None:
    raw = {
        "hosts": [
            {
                "index": record.index,
                "name": record.name,
                "address": record.address,
                "dockerd": _process_to_json(record.dockerd),
                "sshd": _process_to_json(record.sshd),
                "docker": record.has_docker,
                "init": _process_to_json(record.init),
                "fresh": record.is_fresh,
            }
            for record in sorted(state.hosts.values(), key=lambda r: r.index)
        ],
        "registry": _process_to_json(state.registry),
        "mirror": _process_to_json(state.mirror),
    }
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(raw, indent=2) + "\n")
    os.replace(partial, path)
