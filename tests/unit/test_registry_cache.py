"""The run's registry view reads once and follows its own writes."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from engine.registry.cache import CachedRegistry
from engine.registry.model import HeldLock, Instance, LockOwner, Scan


class CountingRegistry:
    def __init__(self, records: list[Instance]) -> None:
        self.records = {(i.service, i.instance): i for i in records}
        self.scans = 0

    def register(self, instance: Instance) -> None:
        self.records[(instance.service, instance.instance)] = instance

    def deregister(self, service: str, instance: str) -> None:
        self.records.pop((service, instance), None)

    def scan(self, service: str | None = None) -> Scan:
        self.scans += 1
        return Scan([i for i in self.records.values()
                     if service is None or i.service == service], [])

    def instances(self, service: str | None = None) -> list[Instance]:
        return self.scan(service).instances

    def lock(self, hosts: Sequence[str], owner: LockOwner, timeout: float,
             on_wait: Callable[[str], None]) -> HeldLock:
        raise NotImplementedError

    def close(self) -> None:
        return None


def instance(service: str, host: str) -> Instance:
    return Instance(service, f"{service}@{host}", host, "127.0.0.1", 80, (), {}, service,
                    "sha256:x", "2026-01-01T00:00:00Z")


def test_reads_once_then_serves_its_own_writes() -> None:
    backend = CountingRegistry([instance("api", "a"), instance("db", "a")])
    cached = CachedRegistry(backend, "test")
    assert [i.instance for i in cached.instances("api")] == ["api@a"]
    cached.register(instance("api", "b"))
    cached.deregister("api", "api@a")
    assert [i.instance for i in cached.instances("api")] == ["api@b"]
    assert [i.instance for i in cached.instances()] == ["api@b", "db@a"]
    assert backend.scans == 1
    assert set(backend.records) == {("api", "api@b"), ("db", "db@a")}
