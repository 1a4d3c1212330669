"""Consumers follow the registry within the run (engine/consumers.py does it): what they
did when a step changed a service's records is kept for that step's message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable


class FollowNotes:
    def __init__(self, follow: Callable[[str], list[str]]) -> None:
        self._follow = follow
        self._notes: dict[tuple[str, str], list[str]] = {}  # (host, step id) -> notes
        self._lock = threading.Lock()

    def follow(self, host: str, step_id: str, services: Iterable[str]) -> None:
        """Let the consumers of these services follow their records now (before a drain),
        keeping what they did for the step's message."""
        notes = [note for service in sorted(services) for note in self._follow(service)]
        if notes:
            with self._lock:
                self._notes.setdefault((host, step_id), []).extend(notes)

    def take(self, host: str, step_id: str) -> list[str]:
        """What following the registry did during this step (and forget it)."""
        with self._lock:
            return self._notes.pop((host, step_id), [])
