"""What the run lends its container and service steps: the connections, each play's
registry, the task runner's scopes and notifications, the consumers that follow the
registry, and the run's --check and --diff. One frozen value, built by engine/wiring.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.playbook import Play
from engine.registry import Registry

if TYPE_CHECKING:
    from engine.connection import Connection


def _follows_nothing(service: str) -> list[str]:
    return []


@dataclass(frozen=True)
class ContainerContext:
    connect: Callable[[str], Connection]
    registry_for: Callable[[Play], Registry]   # the play's own records only
    scope_for: Callable[[str, Play], Mapping[str, Any]]   # a host's variables in a play
    is_notified: Callable[[str, str], bool]    # (host, container name): a handler fired
    # Called with a service's name right after this run changed its records, before any
    # drain wait; returns what it did (engine/consumers.py).
    follow: Callable[[str], list[str]] = _follows_nothing
    check: bool = False
    diff: bool = False   # --diff: a recreate lists what changed, one field a line
