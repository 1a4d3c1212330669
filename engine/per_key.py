"""Work done once per key, or one at a time per key, by the run's threads: the facts of a
host read once, a replicated container placed once, a consumer rendered again one change
at a time. Work on other keys goes on beside it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class KeyedLocks(Generic[Key]):
    """A lock for each key, made the first time the key is asked for."""

    def __init__(self) -> None:
        self._locks: dict[Key, threading.Lock] = {}
        self._lock = threading.Lock()

    def of(self, key: Key) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(key, threading.Lock())


class OncePerKey(Generic[Key, Value]):
    """Each key's value, computed by its first caller while the key's other callers wait;
    a computation that raises stores nothing, so the next caller tries again."""

    def __init__(self) -> None:
        self._values: dict[Key, Value] = {}
        self._locks: KeyedLocks[Key] = KeyedLocks()

    def get(self, key: Key, compute: Callable[[], Value]) -> Value:
        with self._locks.of(key):
            if key not in self._values:
                self._values[key] = compute()
            return self._values[key]
