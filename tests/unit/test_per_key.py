"""engine/per_key.py: the facts of a host read once, a placement decided once, a consumer
rendered one change at a time, by however many of the run's threads ask."""

from __future__ import annotations

import threading

import pytest

from engine.per_key import KeyedLocks, OncePerKey


def test_a_key_keeps_its_lock_and_other_keys_get_their_own() -> None:
    locks: KeyedLocks[tuple[str, str]] = KeyedLocks()
    assert locks.of(("web1", "t1")) is locks.of(("web1", "t1"))
    assert locks.of(("web1", "t1")) is not locks.of(("web2", "t1"))


def test_a_second_caller_waits_for_the_first_and_gets_its_value() -> None:
    once: OncePerKey[str, list[str]] = OncePerKey()
    entered, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def compute() -> list[str]:
        calls.append("read")
        entered.set()
        release.wait()
        return ["facts of web1"]

    results: list[list[str]] = []
    first = threading.Thread(target=lambda: results.append(once.get("web1", compute)))
    first.start()
    entered.wait()  # the first caller is computing
    second = threading.Thread(target=lambda: results.append(once.get("web1", compute)))
    second.start()
    release.set()
    first.join()
    second.join()
    assert calls == ["read"]
    assert results[0] is results[1]


def test_a_key_being_computed_does_not_hold_up_another_key() -> None:
    once: OncePerKey[str, str] = OncePerKey()
    entered, release = threading.Event(), threading.Event()

    def slow() -> str:
        entered.set()
        release.wait()
        return "web1"

    first = threading.Thread(target=lambda: once.get("web1", slow))
    first.start()
    entered.wait()
    try:
        assert once.get("web2", lambda: "web2") == "web2"  # while web1 is still computing
    finally:
        release.set()
        first.join()


def test_a_computation_that_raises_stores_nothing_and_the_next_caller_tries_again() -> None:
    once: OncePerKey[str, str] = OncePerKey()

    def engine_down() -> str:
        raise RuntimeError("cannot read the containers on web1")

    with pytest.raises(RuntimeError):
        once.get("web1", engine_down)
    assert once.get("web1", lambda: "facts") == "facts"
    assert once.get("web1", engine_down) == "facts"
