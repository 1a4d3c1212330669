"""Where a run's events go: one `Reporter` fans them out to the console, `--json` and
`--log` writers, after hiding secrets, so no writer can forget to redact.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Protocol

from engine.output.redaction import MASK, Redactor
from engine.results import Event, StepResult

__all__ = ["MASK", "Redactor", "Reporter", "Sink", "redact_event"]


class Sink(Protocol):
    def handle(self, event: Event) -> None: ...
    def close(self) -> None: ...


def redact_event(redactor: Redactor, event: Event) -> Event:
    """`event` with every secret hidden: in its result's message and diff, its data, and
    the play and step names (a templated name may render a secret)."""
    if not redactor.secrets:
        return event
    result = event.result
    if result is not None:
        result = dataclasses.replace(result, msg=redactor.text(result.msg),
                                     diff=redactor.text(result.diff) if result.diff else None)
    return dataclasses.replace(
        event, result=result, data=redactor.value(event.data),
        play=None if event.play is None else redactor.text(event.play),
        step=None if event.step is None else redactor.text(event.step))


class Reporter:
    def __init__(self, sinks: list[Sink], redactor: Redactor) -> None:
        self.sinks = sinks
        self.redactor = redactor
        self._lock = threading.Lock()  # events come from worker threads

    def emit(self, event: Event) -> None:
        safe = redact_event(self.redactor, event)
        with self._lock:
            for sink in self.sinks:
                sink.handle(safe)

    def step_result(self, result: StepResult, play: str, step: str) -> None:
        self.emit(Event("step_end", host=result.host, play=play, step=step, result=result))

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
