"""A run's view of one registry: every record read once, on first use, then kept up to
date by the run's own writes. A run holds the deploy lock of its hosts, so nobody else
changes their records meanwhile; this saves one registry round trip per service step.

Records that cannot be read, or that fail the record checks (engine/registry/model.py),
are left out with a warning, once per run: a broken or forged record never reaches a
consumer's template, and one planted record cannot stop every team's deploys.
`OwnedRegistry` is the part of it one owner may change.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence

from engine.registry.model import HeldLock, Instance, LockOwner, Registry, RegistryError, Scan


class CachedRegistry:
    def __init__(self, registry: Registry, where: str, records_expire: bool = False,
                 warn: Callable[[str], None] = lambda message: None) -> None:
        self._registry = registry
        self._where = where
        # records on an etcd lease (`ttl`) vanish unless each run registers them again
        self.records_expire = records_expire
        self.warn = warn
        self._records: dict[tuple[str, str], Instance] | None = None
        self._problems: list[str] = []
        self._lock = threading.Lock()

    def _load(self) -> dict[tuple[str, str], Instance]:
        if self._records is None:
            scan = self._registry.scan()
            self._records = {(i.service, i.instance): i for i in scan.instances}
            self._problems = scan.problems
            for problem in scan.problems:
                self.warn(f"{self._where}: skipped a record that cannot be trusted: {problem}")
        return self._records

    def register(self, instance: Instance) -> None:
        self._registry.register(instance)
        with self._lock:
            self._load()[(instance.service, instance.instance)] = instance

    def deregister(self, service: str, instance: str) -> None:
        self._registry.deregister(service, instance)
        with self._lock:
            self._load().pop((service, instance), None)

    def scan(self, service: str | None = None) -> Scan:
        with self._lock:
            records = self._load()
            instances = sorted((i for (name, _), i in records.items()
                                if service is None or name == service),
                               key=lambda i: (i.service, i.instance))
            problems = [p for p in self._problems if service is None or f"/{service}/" in p]
        return Scan(instances, problems)

    def instances(self, service: str | None = None) -> list[Instance]:
        return self.scan(service).instances

    def record(self, service: str, instance: str) -> Instance | None:
        with self._lock:
            return self._load().get((service, instance))

    def lock(self, hosts: Sequence[str], owner: LockOwner, timeout: float,
             on_wait: Callable[[str], None], stop: threading.Event | None = None
             ) -> HeldLock:
        return self._registry.lock(hosts, owner, timeout, on_wait, stop)

    def close(self) -> None:
        self._registry.close()


# How an owner-less record shows in an owner's view: unlike anything a step makes, so the
# next service step writes it again, stamped (adopting it); no owner may take this name.
UNOWNED = "(unowned)"


def is_foreign(record: Instance, owner: str) -> bool:
    """Another owner's record. One without an owner was written before owners existed:
    it is everyone's, as it was then (the next register makes it the writer's)."""
    return bool(record.owner) and record.owner != owner


class OwnedRegistry:
    """The records one owner (an inventory's project or team) may change, over a run's
    cached registry: only those are listed, so a converge's sweep, its steps and replica
    placement never see another owner's records, let alone remove or replace them; what
    it registers carries its owner. Consumers' `services()` read the whole registry."""

    def __init__(self, registry: CachedRegistry, owner: str) -> None:
        self._registry = registry
        self.owner = owner
        self.records_expire = registry.records_expire

    def _refuse_foreign(self, service: str, instance: str, doing: str) -> None:
        current = self._registry.record(service, instance)
        if current is not None and is_foreign(current, self.owner):
            raise RegistryError(f"cannot {doing} {service}/{instance}: that record belongs to "
                                f"registry owner {current.owner!r}, and this inventory's "
                                f"owner is {self.owner!r} (two projects deploy service "
                                f"{service} to a host named {current.host}: rename one, or "
                                "give both the same registry owner)")

    def register(self, instance: Instance) -> None:
        self._refuse_foreign(instance.service, instance.instance, "write")
        # stamped here: neither the view's own `UNOWNED` nor "" reaches a record it writes
        self._registry.register(dataclasses.replace(instance, owner=self.owner))

    def deregister(self, service: str, instance: str) -> None:
        self._refuse_foreign(service, instance, "remove")
        self._registry.deregister(service, instance)

    def scan(self, service: str | None = None) -> Scan:
        """Own records as the steps make them (without the owner stamp, which this view
        adds on writing), so that an unchanged record compares equal and is left alone."""
        scan = self._registry.scan(service)
        return Scan([dataclasses.replace(i, owner="" if i.owner else UNOWNED)
                     for i in scan.instances if not is_foreign(i, self.owner)],
                    scan.problems)

    def instances(self, service: str | None = None) -> list[Instance]:
        return self.scan(service).instances

    def lock(self, hosts: Sequence[str], owner: LockOwner, timeout: float,
             on_wait: Callable[[str], None], stop: threading.Event | None = None
             ) -> HeldLock:
        return self._registry.lock(hosts, owner, timeout, on_wait, stop)

    def close(self) -> None:
        self._registry.close()
