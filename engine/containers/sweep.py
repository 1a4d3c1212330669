"""The registry sweep of one service in a converge: the records that no step of this
run will fix on its own host. A record whose host left the play, or that placement
constraints now exclude, goes at once; one whose host does not answer stays for the
registry's grace (converges in a row, or a duration) so that one network blip does not
empty a service, and goes after it. Records of reachable hosts are their own service
step's business; records of hosts outside `--limit` are left alone.
"""

from __future__ import annotations

import calendar
import dataclasses
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from engine.registry import Instance, Registry


@dataclass(frozen=True)
class Grace:
    converges: int = 2          # converges in a row that found the host unreachable
    seconds: float = 0.0        # or: how long since the first of them (when > 0)

    def is_over(self, record: Instance, now: float) -> bool:
        if self.seconds > 0:
            return now - _epoch(record.missing_since or _iso(now)) >= self.seconds
        return record.missed >= self.converges


@dataclass(frozen=True)
class HostsOfService:
    """What the run knows about the hosts of one service step."""

    of_play: Collection[str]            # the play's pattern, before --limit
    in_run: Collection[str]             # after --limit
    has_step: Callable[[str], bool]     # the service step runs there (constraints, tags)
    is_reachable: Callable[[str], bool]  # connects if it has to; False when it cannot


def sweep_service(registry: Registry, service: str, hosts: HostsOfService, grace: Grace,
                  now: float | None = None) -> list[str]:
    """Apply the sweep to one service's records; returns one line per record it touched."""
    now = time.time() if now is None else now
    touched = []
    for record in registry.instances(service):
        if record.host not in hosts.of_play:
            registry.deregister(service, record.instance)
            touched.append(f"removed {record.instance}: {record.host} is no longer in the play")
        elif record.host not in hosts.in_run:
            continue
        elif not hosts.has_step(record.host):
            registry.deregister(service, record.instance)
            touched.append(f"removed {record.instance}: placement no longer puts it on "
                           f"{record.host}")
        elif not hosts.is_reachable(record.host):
            touched.append(_miss(registry, record, grace, now))
    return touched


def _miss(registry: Registry, record: Instance, grace: Grace, now: float) -> str:
    missed = dataclasses.replace(record, missed=record.missed + 1,
                                 missing_since=record.missing_since or _iso(now))
    if grace.is_over(missed, now):
        registry.deregister(record.service, record.instance)
        return (f"removed {record.instance}: {record.host} unreachable for {missed.missed} "
                f"converges since {missed.missing_since}")
    registry.register(missed)
    return (f"kept {record.instance} for its grace: {record.host} unreachable "
            f"({missed.missed} converge{'s' if missed.missed > 1 else ''} since "
            f"{missed.missing_since})")


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _epoch(iso: str) -> float:
    return float(calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")))
