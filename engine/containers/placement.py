"""Placement: which candidate hosts run the replicas of a `replicas: N` container.

Pure: it takes what the facts round read on every candidate host (free memory, CPU
count, load, the managed containers) and returns a decision per host with the reason,
so the container steps, `play graph --explain` and the unit tests share one answer.

Sticky by design: a healthy replica stays where it runs; only missing replicas are
placed, on the hosts with room, one per host first (spread), least loaded first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?\s*$", re.IGNORECASE)
_MEMORY_BUCKET = 256 * 1024 ** 2
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}


def parse_memory(text: str) -> int:
    """Docker's memory sizes (`512m`, `1g`, `1048576`) in bytes; ValueError otherwise."""
    match = _MEMORY.match(str(text))
    if not match:
        raise ValueError(f"memory must be a size such as 512m or 1g, not {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def format_memory(size: float) -> str:
    for unit, scale in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if abs(size) >= scale:
            return f"{size / scale:.1f} {unit}".replace(".0 ", " ")
    return f"{int(size)} B"


@dataclass(frozen=True)
class Policy:
    """What the playbook asks: N replicas, and how to choose hosts for them."""

    replicas: int
    spread: bool = True                 # one per host before a second on any host
    prefer: str | None = None           # "least-loaded", or None for inventory order
    max_per_host: int = 1
    cpus: float = 0.0                   # requested by each replica
    memory: int = 0                     # bytes requested by each replica


@dataclass(frozen=True)
class Candidate:
    """One host that may run replicas, as the facts round saw it."""

    host: str
    is_reachable: bool = True
    running: int = 0                    # healthy replicas of this container on it now
    is_registered: bool = True          # its replicas are in the registry (not swept)
    cpus: int = 1
    cpus_reserved: float = 0.0          # --cpus of the other managed containers on it
    memory_free: int = 0                # MemAvailable, bytes
    load: float = 0.0                   # 1-minute load average
    containers: int = 0                 # other managed containers: running, or started by this run
    is_failing: bool = False            # its copy exists but is not running healthy
    error: str = ""                     # why it is unreachable


@dataclass(frozen=True)
class Decision:
    host: str
    replicas: int
    why: str


@dataclass(frozen=True)
class Placement:
    decisions: tuple[Decision, ...]
    missing: int = 0                    # replicas no host had room for
    shortfall: str = ""                 # how much was missing where
    by_host: Mapping[str, Decision] = field(default_factory=dict, compare=False)

    def replicas_on(self, host: str) -> int:
        decision = self.by_host.get(host)
        return decision.replicas if decision else 0

    def explain(self) -> list[str]:
        lines = [f"{decision.host}: {decision.replicas} - {decision.why}"
                 for decision in self.decisions]
        if self.missing:
            lines.append(self.shortfall)
        return lines


def place(policy: Policy, candidates: Sequence[Candidate]) -> Placement:
    """Keep healthy replicas where they run (at most N, at most max_per_host each), then
    place the missing ones on reachable hosts with room, deterministic for equal input."""
    order = _preference(policy, candidates)
    kept = _keep(policy, order)
    assigned = dict(kept)
    reasons = {host: f"keeps {count} running healthy replica{'s' if count > 1 else ''}"
               for host, count in kept.items()}
    missing = policy.replicas - sum(kept.values())
    while missing > 0:
        host = _next_host(policy, order, assigned)
        if host is None:
            break
        assigned[host] = assigned.get(host, 0) + 1
        missing -= 1
        placed = assigned[host] - kept.get(host, 0)
        reasons[host] = _placed_reason(policy, order[host], kept.get(host, 0), placed)
    decisions = tuple(Decision(c.host, assigned.get(c.host, 0),
                               reasons.get(c.host) or _why_not(policy, c, assigned))
                      for c in candidates)
    shortfall = _shortfall(policy, candidates, assigned, missing) if missing else ""
    return Placement(decisions, missing, shortfall, {d.host: d for d in decisions})


def _preference(policy: Policy, candidates: Sequence[Candidate]) -> dict[str, Candidate]:
    """Candidates in the order new replicas go to them (a dict keeps the order). A host
    whose copy failed (exited, unhealthy, did not start) comes last: its replica is placed
    on the others when they have room."""
    ranked = sorted(candidates, key=lambda c: c.is_failing)   # stable
    if policy.prefer == "least-loaded":
        # coarse buckets: free memory and load move a little between two reads, and a
        # converge must not move its choice on that noise
        ranked.sort(key=lambda c: (c.is_failing, c.containers,
                                   round(c.load / max(c.cpus, 1), 1),
                                   -(c.memory_free // _MEMORY_BUCKET), c.host))
    return {candidate.host: candidate for candidate in ranked}


def _keep(policy: Policy, order: Mapping[str, Candidate]) -> dict[str, int]:
    """Running healthy replicas stay; beyond N, the ones the registry no longer lists (a
    host that was lost and came back) go first, then the least preferred."""
    running = [c for c in order.values() if c.is_reachable and c.running]
    running.sort(key=lambda c: not c.is_registered)   # stable: preference order within
    kept: dict[str, int] = {}
    left = policy.replicas
    for candidate in running:
        count = min(candidate.running, policy.max_per_host, left)
        if count:
            kept[candidate.host] = count
            left -= count
    return kept


def _has_room(policy: Policy, candidate: Candidate, placed: int) -> bool:
    memory_left = candidate.memory_free - placed * policy.memory
    cpus_left = candidate.cpus - candidate.cpus_reserved - placed * policy.cpus
    return memory_left >= policy.memory and cpus_left >= policy.cpus - 1e-9


def _next_host(policy: Policy, order: Mapping[str, Candidate],
               assigned: Mapping[str, int]) -> str | None:
    fitting = [c for c in order.values() if c.is_reachable
               and assigned.get(c.host, 0) < policy.max_per_host
               and _has_room(policy, c, assigned.get(c.host, 0))]
    if not fitting:
        return None
    if policy.spread:   # fewest replicas first; preference order breaks ties (stable sort)
        fitting.sort(key=lambda c: assigned.get(c.host, 0))
    else:               # pack: fill the preferred host up to max_per_host first
        fitting.sort(key=lambda c: -assigned.get(c.host, 0))
    return fitting[0].host


def _placed_reason(policy: Policy, candidate: Candidate, kept: int, placed: int) -> str:
    facts = (f"load {candidate.load:.2f} on {candidate.cpus} cpus, "
             f"{format_memory(candidate.memory_free)} free, "
             f"{candidate.containers} managed containers")
    order = "least loaded with room" if policy.prefer == "least-loaded" else \
        "first in inventory order with room"
    kept_text = f"keeps {kept}, " if kept else ""
    return f"{kept_text}places {placed}: {order} ({facts})"


def _why_not(policy: Policy, candidate: Candidate, assigned: Mapping[str, int]) -> str:
    if not candidate.is_reachable:
        return f"unreachable{': ' + candidate.error if candidate.error else ''}"
    if not _has_room(policy, candidate, 0):
        return _no_room(policy, candidate)
    return "not needed: the replicas are placed elsewhere"


def _no_room(policy: Policy, candidate: Candidate) -> str:
    missing = []
    if candidate.memory_free < policy.memory:
        missing.append(f"needs {format_memory(policy.memory)} memory, "
                       f"{format_memory(candidate.memory_free)} free")
    cpus_left = candidate.cpus - candidate.cpus_reserved
    if cpus_left < policy.cpus - 1e-9:
        missing.append(f"needs {policy.cpus:g} cpus, {max(cpus_left, 0):g} unreserved")
    return "no room: " + "; ".join(missing)


def _shortfall(policy: Policy, candidates: Sequence[Candidate], assigned: Mapping[str, int],
               missing: int) -> str:
    where = []
    for candidate in candidates:
        count = assigned.get(candidate.host, 0)
        if not candidate.is_reachable:
            where.append(f"{candidate.host}: unreachable")
        elif count >= policy.max_per_host:
            where.append(f"{candidate.host}: runs {count} (max_per_host {policy.max_per_host})")
        else:
            where.append(f"{candidate.host}: {_no_room(policy, _after(candidate, count, policy))}")
    hosts = "; ".join(where) or "no candidate hosts"
    return (f"{missing} of {policy.replicas} replicas could not be placed, no host has room "
            f"for them: {hosts}")


def _after(candidate: Candidate, placed: int, policy: Policy) -> Candidate:
    """The candidate as it stands once `placed` replicas took their share."""
    return replace(candidate, cpus_reserved=candidate.cpus_reserved + placed * policy.cpus,
                   memory_free=candidate.memory_free - placed * policy.memory)
