"""The run's registry view reads once and follows its own writes; an owner's view
changes only that owner's records."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import pytest

from engine.registry.cache import CachedRegistry, OwnedRegistry
from engine.registry.model import HeldLock, Instance, LockOwner, RegistryError, Scan


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


def owned(service: str, host: str, owner: str) -> Instance:
    return dataclasses.replace(instance(service, host), owner=owner)


def test_an_owners_view_lists_only_its_own_and_unowned_records() -> None:
    backend = CountingRegistry([owned("api", "a", "mine"), owned("api", "b", "theirs"),
                                instance("api", "c")])
    cached = CachedRegistry(backend, "test")
    view = OwnedRegistry(cached, "mine")
    assert [i.instance for i in view.instances("api")] == ["api@a", "api@c"]
    # as a step makes them: an own record compares equal, an unowned one does not
    assert view.instances("api")[0] == instance("api", "a")
    assert view.instances("api")[1] != instance("api", "c")
    # consumers (services()) see every owner's
    assert [i.instance for i in cached.instances("api")] == ["api@a", "api@b", "api@c"]


def test_an_owners_view_stamps_what_it_writes_and_adopts_unowned_records() -> None:
    backend = CountingRegistry([instance("api", "c")])
    view = OwnedRegistry(CachedRegistry(backend, "test"), "mine")
    view.register(instance("api", "a"))
    view.register(instance("api", "c"))
    assert {i.owner for i in backend.records.values()} == {"mine"}


def test_an_owners_view_refuses_to_replace_or_remove_another_owners_record() -> None:
    theirs = owned("api", "b", "theirs")
    backend = CountingRegistry([theirs])
    view = OwnedRegistry(CachedRegistry(backend, "test"), "mine")
    with pytest.raises(RegistryError, match="belongs to registry owner 'theirs'"):
        view.register(instance("api", "b"))
    with pytest.raises(RegistryError, match="belongs to registry owner 'theirs'"):
        view.deregister("api", "api@b")
    assert backend.records == {("api", "api@b"): theirs}


def test_a_record_that_cannot_be_trusted_is_skipped_with_one_warning() -> None:
    class BrokenRecords(CountingRegistry):
        def scan(self, service: str | None = None) -> Scan:
            scan = super().scan(service)
            return Scan(scan.instances, ["/r/api/api@x.json: address must be an IP address "
                                         "or a host name, not 'evil;'"])

    heard: list[str] = []
    cached = CachedRegistry(BrokenRecords([instance("api", "a")]), "file registry /r",
                            warn=heard.append)
    assert [i.instance for i in cached.instances("api")] == ["api@a"]
    assert [i.instance for i in cached.instances()] == ["api@a"]
    assert heard == ["file registry /r: skipped a record that cannot be trusted: /r/api/"
                     "api@x.json: address must be an IP address or a host name, not 'evil;'"]
