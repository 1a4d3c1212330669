"""Placement of `replicas: N` containers: pure decisions from the hosts' facts."""

from __future__ import annotations

import pytest

from engine.containers.placement import Candidate, Policy, parse_memory, place

GIB = 1024 ** 3


def hosts(*names: str, **overrides: object) -> list[Candidate]:
    fields = {"cpus": 2, "memory_free": 4 * GIB, **overrides}
    return [Candidate(name, **fields) for name in names]  # type: ignore[arg-type]


def test_same_inputs_give_the_same_placement() -> None:
    candidates = hosts("web1", "web2", "web3")
    first = place(Policy(replicas=2), candidates)
    assert first == place(Policy(replicas=2), candidates)
    assert [d.replicas for d in first.decisions] == [1, 1, 0]


def test_spread_puts_one_per_host_before_a_second() -> None:
    placement = place(Policy(replicas=4, max_per_host=2), hosts("a", "b", "c"))
    assert [d.replicas for d in placement.decisions] == [2, 1, 1]


def test_without_spread_replicas_pack_onto_the_first_host() -> None:
    placement = place(Policy(replicas=3, spread=False, max_per_host=2), hosts("a", "b", "c"))
    assert [d.replicas for d in placement.decisions] == [2, 1, 0]


def test_least_loaded_prefers_hosts_with_fewer_containers_then_lower_load() -> None:
    candidates = [Candidate("a", cpus=2, memory_free=GIB, containers=3),
                  Candidate("b", cpus=2, memory_free=GIB, containers=0, load=1.5),
                  Candidate("c", cpus=2, memory_free=GIB, containers=0, load=0.2)]
    placement = place(Policy(replicas=1, prefer="least-loaded"), candidates)
    assert placement.replicas_on("c") == 1
    assert "least loaded" in placement.by_host["c"].why


def test_running_healthy_replicas_stay_where_they_are() -> None:
    candidates = [Candidate("a", cpus=2, memory_free=GIB),
                  Candidate("b", cpus=2, memory_free=GIB),
                  Candidate("c", cpus=2, memory_free=GIB, running=1)]
    placement = place(Policy(replicas=2), candidates)
    assert placement.replicas_on("c") == 1
    assert placement.replicas_on("a") == 1
    assert placement.replicas_on("b") == 0
    assert placement.by_host["c"].why.startswith("keeps 1")


def test_a_lost_host_gets_its_replica_replaced_elsewhere() -> None:
    candidates = [Candidate("a", cpus=2, memory_free=GIB, running=1),
                  Candidate("b", is_reachable=False, error="connection refused"),
                  Candidate("c", cpus=2, memory_free=GIB)]
    placement = place(Policy(replicas=2), candidates)
    assert (placement.replicas_on("a"), placement.replicas_on("c")) == (1, 1)
    assert "unreachable" in placement.by_host["b"].why


def test_a_host_back_from_the_dead_does_not_double_the_replicas() -> None:
    # b was lost, its replica moved to c; b is back with its old replica still running,
    # but the registry no longer lists it: the moved one stays, b's is the extra.
    candidates = [Candidate("a", cpus=2, memory_free=GIB, running=1),
                  Candidate("b", cpus=2, memory_free=GIB, running=1, is_registered=False),
                  Candidate("c", cpus=2, memory_free=GIB, running=1)]
    placement = place(Policy(replicas=2), candidates)
    assert [d.replicas for d in placement.decisions] == [1, 0, 1]
    assert placement.missing == 0


def test_a_host_without_room_is_not_chosen() -> None:
    candidates = [Candidate("a", cpus=2, memory_free=100 * 1024 ** 2),
                  Candidate("b", cpus=1, cpus_reserved=1.0, memory_free=GIB),
                  Candidate("c", cpus=2, memory_free=GIB)]
    placement = place(Policy(replicas=1, memory=parse_memory("512m"), cpus=0.5), candidates)
    assert placement.replicas_on("c") == 1
    assert "needs 512 MiB memory, 100 MiB free" in placement.by_host["a"].why
    assert "needs 0.5 cpus, 0 unreserved" in placement.by_host["b"].why


def test_no_room_anywhere_says_how_much_was_missing_where() -> None:
    candidates = [Candidate("a", cpus=2, memory_free=GIB),
                  Candidate("b", cpus=2, memory_free=300 * 1024 ** 2),
                  Candidate("c", is_reachable=False)]
    placement = place(Policy(replicas=3, memory=parse_memory("512m")), candidates)
    assert placement.missing == 2
    assert placement.shortfall == (
        "2 of 3 replicas could not be placed, no host has room for them: "
        "a: runs 1 (max_per_host 1); b: no room: needs 512 MiB memory, 300 MiB free; "
        "c: unreachable")


def test_memory_taken_by_earlier_replicas_counts_on_the_same_host() -> None:
    placement = place(Policy(replicas=2, max_per_host=2, memory=parse_memory("600m")),
                      [Candidate("a", cpus=4, memory_free=GIB)])
    assert placement.replicas_on("a") == 1
    assert placement.missing == 1


def test_more_running_than_wanted_keeps_only_n() -> None:
    placement = place(Policy(replicas=1), hosts("a", "b", running=1))
    assert [d.replicas for d in placement.decisions] == [1, 0]


@pytest.mark.parametrize(("text", "size"), [("512m", 512 * 1024 ** 2), ("1g", GIB),
                                            ("1.5G", 1536 * 1024 ** 2), ("4096", 4096),
                                            ("2GiB", 2 * GIB)])
def test_memory_sizes_read_as_docker_does(text: str, size: int) -> None:
    assert parse_memory(text) == size


def test_a_bad_memory_size_is_refused() -> None:
    with pytest.raises(ValueError, match="512m or 1g"):
        parse_memory("lots")


def test_a_host_whose_copy_failed_gets_the_replica_only_when_no_other_has_room() -> None:
    candidates = [Candidate("a", cpus=2, memory_free=GIB, is_failing=True),
                  Candidate("b", cpus=2, memory_free=GIB),
                  Candidate("c", cpus=2, memory_free=GIB, running=1)]
    placement = place(Policy(replicas=2, prefer="least-loaded"), candidates)
    assert (placement.replicas_on("a"), placement.replicas_on("b")) == (0, 1)
    assert place(Policy(replicas=3), candidates).replicas_on("a") == 1
