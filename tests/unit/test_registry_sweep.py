"""The converge's registry sweep: stale records go, unreachable hosts get a grace."""

from __future__ import annotations

import calendar
import time

from test_registry_cache import CountingRegistry

from engine.containers.sweep import Grace, HostsOfService, sweep_service
from engine.registry.cache import CachedRegistry, OwnedRegistry
from engine.registry.model import Instance, serving

NOW = float(calendar.timegm(time.strptime("2026-11-25T12:00:00Z", "%Y-%m-%dT%H:%M:%SZ")))


def record(host: str, **fields: object) -> Instance:
    return Instance(service="api", instance=f"api@{host}", host=host, address="10.0.0.1",
                    port=8080, tags=(), meta={}, container="api", image_id="sha256:1",
                    registered_at="2026-11-25T11:00:00Z", **fields)  # type: ignore[arg-type]


def hosts(unreachable: set[str] = frozenset(), without_step: set[str] = frozenset(),
          in_run: tuple[str, ...] = ("a", "b", "c")) -> HostsOfService:
    return HostsOfService(of_play=("a", "b", "c"), in_run=in_run,
                          has_step=lambda host: host not in without_step,
                          is_reachable=lambda host: host not in unreachable)


def test_reachable_hosts_records_are_left_to_their_own_step() -> None:
    registry = CountingRegistry([record("a"), record("b")])
    assert sweep_service(registry, "api", hosts(), Grace(), NOW) == []
    assert len(registry.records) == 2


def test_a_host_that_left_the_play_loses_its_record_at_once() -> None:
    registry = CountingRegistry([record("a"), record("gone")])
    touched = sweep_service(registry, "api", hosts(), Grace(), NOW)
    assert touched == ["removed api@gone: gone is no longer in the play"]
    assert ("api", "api@gone") not in registry.records


def test_a_host_that_placement_no_longer_uses_loses_its_record() -> None:
    registry = CountingRegistry([record("b")])
    sweep_service(registry, "api", hosts(without_step={"b"}), Grace(), NOW)
    assert registry.records == {}


def test_an_unreachable_host_keeps_its_record_for_the_grace_then_loses_it() -> None:
    registry = CountingRegistry([record("c")])
    first = sweep_service(registry, "api", hosts(unreachable={"c"}), Grace(converges=2), NOW)
    assert first == ["kept api@c for its grace: c unreachable (1 converge since "
                     "2026-11-25T12:00:00Z)"]
    assert registry.records[("api", "api@c")].missed == 1
    second = sweep_service(registry, "api", hosts(unreachable={"c"}), Grace(converges=2),
                           NOW + 300)
    assert second == ["removed api@c: c unreachable for 2 converges since 2026-11-25T12:00:00Z"]
    assert registry.records == {}


def test_a_grace_as_a_duration_counts_from_the_first_miss() -> None:
    registry = CountingRegistry([record("c")])
    grace = Grace(converges=0, seconds=600)
    sweep_service(registry, "api", hosts(unreachable={"c"}), grace, NOW)
    sweep_service(registry, "api", hosts(unreachable={"c"}), grace, NOW + 300)
    sweep_service(registry, "api", hosts(unreachable={"c"}), grace, NOW + 599)
    assert ("api", "api@c") in registry.records
    sweep_service(registry, "api", hosts(unreachable={"c"}), grace, NOW + 600)
    assert registry.records == {}


def test_hosts_outside_the_limit_are_left_alone() -> None:
    registry = CountingRegistry([record("c")])
    sweep_service(registry, "api", hosts(unreachable={"c"}, in_run=("a",)), Grace(converges=1),
                  NOW)
    assert ("api", "api@c") in registry.records


def test_a_record_that_was_missed_is_read_back_with_its_count() -> None:
    missed = record("c", missed=2, missing_since="2026-11-25T12:00:00Z")
    assert Instance.from_json(missed.to_json()) == missed
    assert "missed" not in record("c").to_json()


def test_a_record_kept_for_its_grace_is_not_served_to_templates() -> None:
    """services('api') lists what a load balancer may send to: a host that did not answer
    the converge is out of its backend list at once, while its record waits out the grace."""
    registry = CountingRegistry([record("a"), record("c")])
    sweep_service(registry, "api", hosts(unreachable={"c"}), Grace(converges=2), NOW)
    assert sorted(i.host for i in registry.instances("api")) == ["a", "c"]
    served = serving(registry.instances("api"))
    assert [entry["host"] for entry in served] == ["a"]
    assert served[0] == {"service": "api", "instance": "api@a", "host": "a",
                         "address": "10.0.0.1", "port": 8080, "tags": [], "meta": {},
                         "container": "api", "image_id": "sha256:1",
                         "registered_at": "2026-11-25T11:00:00Z"}


def test_another_owners_records_are_never_swept_or_changed() -> None:
    """Team b's `api` on hosts outside team a's play, and on one a cannot reach: a's
    converge (its owned view of the registry) leaves both alone and removes its own."""
    theirs = record("elsewhere", owner="team-b")
    unreachable_theirs = record("c", owner="team-b")
    registry = CountingRegistry([theirs, unreachable_theirs, record("gone", owner="team-a")])
    view = OwnedRegistry(CachedRegistry(registry, "test"), "team-a")
    touched = sweep_service(view, "api", hosts(unreachable={"c"}), Grace(converges=1), NOW)
    assert touched == ["removed api@gone: gone is no longer in the play"]
    assert registry.records[("api", "api@elsewhere")] == theirs
    assert registry.records[("api", "api@c")] == unreachable_theirs
