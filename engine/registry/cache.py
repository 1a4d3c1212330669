"""A run's view of one registry: every record read once, on first use, then kept up to
date by the run's own writes. A run holds the deploy lock of its hosts, so nobody else
changes their records meanwhile; this saves one registry round trip per service step.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from engine.registry.model import HeldLock, Instance, LockOwner, Registry, Scan, checked


class CachedRegistry:
    def __init__(self, registry: Registry, where: str, records_expire: bool = False) -> None:
        self._registry = registry
        self._where = where
        # records on an etcd lease (`ttl`) vanish unless each run registers them again
        self.records_expire = records_expire
        self._records: dict[tuple[str, str], Instance] | None = None
        self._problems: list[str] = []
        self._lock = threading.Lock()

    def _load(self) -> dict[tuple[str, str], Instance]:
        if self._records is None:
            scan = self._registry.scan()
            self._records = {(i.service, i.instance): i for i in scan.instances}
            self._problems = scan.problems
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
        return checked(self.scan(service), self._where)

    def lock(self, hosts: Sequence[str], owner: LockOwner, timeout: float,
             on_wait: Callable[[str], None]) -> HeldLock:
        return self._registry.lock(hosts, owner, timeout, on_wait)

    def close(self) -> None:
        self._registry.close()
