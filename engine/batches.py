"""Which hosts each play runs on, in rolling batches (`serial`): the first half of
planning, apart from the graph so that a run knows its hosts before it imports networkx.
(Where a `replicas: N` container goes is engine/containers/placement.py.)

Pure: it takes the loaded playbook and inventory and touches nothing remote.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.playbook import Play, Playbook

if TYPE_CHECKING:
    from engine.inventory import Inventory


@dataclass(frozen=True)
class PlayPlacement:
    """Which hosts a play runs on, in rolling batches."""

    play: int
    hosts: tuple[str, ...]
    batches: tuple[tuple[str, ...], ...]
    pattern_hosts: tuple[str, ...] = ()   # what its pattern selects before --limit


def place_plays(playbook: Playbook, inventory: Inventory,
                limit: str | None = None) -> tuple[PlayPlacement, ...]:
    """Every play's hosts (its pattern, narrowed by `--limit`) and batches."""
    limited = {host.name for host in inventory.select(limit)} if limit else None
    return tuple(_place(play, inventory, limited) for play in playbook.plays)


def _place(play: Play, inventory: Inventory, limited: set[str] | None) -> PlayPlacement:
    selected = tuple(host.name for host in inventory.select(play.hosts, play.source))
    hosts = tuple(host for host in selected if limited is None or host in limited)
    return PlayPlacement(play.index, hosts, split_batches(hosts, play.serial), selected)


def split_batches(hosts: Sequence[str], serial: Sequence[Any]) -> tuple[tuple[str, ...], ...]:
    """Ansible's `serial`: batch sizes in order, the last size repeating; "30%" of the hosts
    rounds down but is at least 1."""
    if not hosts:
        return ()
    if not serial:
        return (tuple(hosts),)
    batches = []
    position = 0
    index = 0
    while position < len(hosts):
        size_spec = serial[min(index, len(serial) - 1)]
        if isinstance(size_spec, str) and size_spec.endswith("%"):
            size = max(1, math.floor(len(hosts) * int(size_spec[:-1]) / 100))
        else:
            size = int(size_spec)
        batches.append(tuple(hosts[position:position + size]))
        position += size
        index += 1
    return tuple(batches)
