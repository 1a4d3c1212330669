"""The tools under test. Each turns a (workload, phase) into an `Invocation`: the command
line and environment of one run, with the files it needs written into the work dir."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bench.scenarios import Phase, Workload


@dataclass(frozen=True)
class Target:
    """The lab as the tools see it."""

    addresses: tuple[str, ...]
    names: tuple[str, ...]
    user: str
    key: Path
    known_hosts: Path
    inventory: Path         # the inventory `play lab up` wrote


@dataclass(frozen=True)
class Invocation:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)   # added to the bench's environment


class Tool(Protocol):
    name: str

    def supports(self, workload: Workload) -> bool: ...

    def invocation(self, target: Target, workload: Workload, phase: Phase,
                   workdir: Path) -> Invocation: ...
