"""Which hosts each play runs on, in rolling batches (`serial`): the first half of
planning, apart from the graph so that a run knows its hosts before it imports networkx.
(Where a `replicas: N` container goes is engine/containers/placement.py.)

Pure: it takes the loaded playbook and inventory and touches nothing remote.
"""

from __future__ import annotations

import dataclasses
import math
from collections import ChainMap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.errors import InputError
from engine.playbook import Play, Playbook
from engine.templating import is_template, names_in_template, render_text
from engine.variables import Scope

if TYPE_CHECKING:
    from engine.inventory import Host, Inventory


@dataclass(frozen=True)
class PlayPlacement:
    """Which hosts a play runs on, in rolling batches."""

    play: int
    hosts: tuple[str, ...]
    batches: tuple[tuple[str, ...], ...]
    pattern_hosts: tuple[str, ...] = ()   # what its pattern selects before --limit


def place_plays(playbook: Playbook, inventory: Inventory,
                limit: str | None = None) -> tuple[PlayPlacement, ...]:
    """Every play's hosts (its pattern, narrowed by `--limit`) and batches. A run that
    targets no host at all is refused, naming the selection that emptied it (a play
    whose pattern matches nothing while others match is only skipped, as in Ansible)."""
    limited = None if limit is None else {host.name for host in _select_limit(inventory, limit)}
    placements = tuple(_place(play, inventory, limited) for play in playbook.plays)
    if playbook.plays and not any(placement.hosts for placement in placements):
        raise InputError(_why_no_host(playbook, placements, limit), playbook.plays[0].source)
    return placements


def _select_limit(inventory: Inventory, limit: str) -> tuple[Host, ...]:
    if not limit.strip():
        # an unset $HOSTS in `play -l "$HOSTS"` must not mean every host
        raise InputError("an empty --limit matches no host; give a pattern (-l web1, "
                         "-l 'web:!web3') or leave -l out to run on every host the plays name")
    try:
        return inventory.select(limit)
    except InputError as error:
        raise InputError(f"--limit: {error.message}", error.location) from None


def _why_no_host(playbook: Playbook, placements: Sequence[PlayPlacement],
                 limit: str | None) -> str:
    targeted = sorted({host for placement in placements for host in placement.pattern_hosts})
    if limit is not None and targeted:
        shown = ", ".join(targeted[:5]) + (", ..." if len(targeted) > 5 else "")
        return (f"--limit {limit!r} leaves no host to run on: the plays target {shown}; "
                "nothing would be done")
    patterns = ", ".join(f"{play.name!r} (hosts: {play.hosts!r})" for play in playbook.plays)
    return (f"no play's hosts pattern matches a host of the inventory: {patterns}; nothing "
            "would be done (check the pattern, or the inventory given with -i)")


def render_patterns(playbook: Playbook, extra_vars: Mapping[str, Any]) -> Playbook:
    """`hosts: "{{ target }}"` rendered from -e and the play's vars: the hosts must be known
    before any host's variables are, so only those two can say which they are."""

    if not any(is_template(play.hosts) for play in playbook.plays):
        return playbook
    plays = tuple(dataclasses.replace(play, hosts=_rendered_pattern(play, extra_vars))
                  if is_template(play.hosts) else play for play in playbook.plays)
    return dataclasses.replace(playbook, plays=plays)


def _rendered_pattern(play: Play, extra_vars: Mapping[str, Any]) -> str:
    import jinja2


    scope = Scope(ChainMap(dict(extra_vars), dict(play.vars)))
    try:
        missing = [name for name, _ in names_in_template(play.hosts) if name not in scope]
        if missing:
            raise InputError(f"{missing[0]!r} is undefined")
        pattern = render_text(play.hosts, scope)
    except (jinja2.TemplateError, InputError, ValueError, TypeError, LookupError) as error:
        reason = error.message if isinstance(error, InputError) else str(error)
        raise InputError(f"hosts {play.hosts!r} of play {play.name!r} cannot be rendered: "
                         f"{reason}; the hosts are chosen before any host's variables exist, "
                         "so only -e and the play's vars can set it (-e target=web)",
                         play.source) from None
    if isinstance(pattern, list) and all(isinstance(item, str) for item in pattern):
        pattern = ":".join(pattern)
    if not isinstance(pattern, str) or not pattern.strip():
        raise InputError(f"hosts {play.hosts!r} of play {play.name!r} renders to "
                         f"{pattern!r}, not a host pattern", play.source)
    return pattern


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
