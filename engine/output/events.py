"""Where a run's events go: one `Reporter` fans them out to the console, `--json` and
`--log` writers, after hiding secrets, so no writer can forget to redact.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable
from typing import Any, Protocol

from engine.results import Event, StepResult

MASK = "********"


class Sink(Protocol):
    def handle(self, event: Event) -> None: ...
    def close(self) -> None: ...


class Redactor:
    """Replaces every secret value by a mask, longest first (a secret may contain another)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = sorted({secret for secret in secrets if secret}, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            value = value.replace(secret, MASK)
        return value

    def value(self, value: Any) -> Any:
        if not self.secrets:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(item) for item in value]
        return value

    def event(self, event: Event) -> Event:
        if not self.secrets:
            return event
        result = event.result
        if result is not None:
            result = dataclasses.replace(result, msg=self.text(result.msg),
                                         diff=self.text(result.diff) if result.diff else None)
        return dataclasses.replace(event, result=result, data=self.value(event.data))


class Reporter:
    def __init__(self, sinks: list[Sink], redactor: Redactor) -> None:
        self.sinks = sinks
        self.redactor = redactor
        self._lock = threading.Lock()  # events come from worker threads

    def emit(self, event: Event) -> None:
        safe = self.redactor.event(event)
        with self._lock:
            for sink in self.sinks:
                sink.handle(safe)

    def step_result(self, result: StepResult, play: str, step: str) -> None:
        self.emit(Event("step_end", host=result.host, play=play, step=step, result=result))

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
