"""`--json`: one JSON object per line per event, for machines (documented in docs/output.md)."""

from __future__ import annotations

import json
from typing import Any, TextIO

from engine.results import Event, Recap


def event_record(event: Event) -> dict[str, Any]:
    record: dict[str, Any] = {"event": event.kind, "time": round(event.time, 3)}
    if event.host is not None:
        record["host"] = event.host
    if event.play is not None:
        record["play"] = event.play
    if event.step is not None:
        record["step"] = event.step
    if event.result is not None:
        result = event.result
        record.update(status=result.status, changed=result.has_changed,
                      duration=round(result.duration, 4), msg=result.msg, diff=result.diff,
                      ignored=result.is_ignored, rescued=result.is_rescued)
    for key, value in event.data.items():
        record[key] = value.counts if isinstance(value, Recap) else value
    return record


class JsonWriter:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def handle(self, event: Event) -> None:
        if event.result is not None and event.result.is_hidden:
            return
        self.stream.write(json.dumps(event_record(event), default=str) + "\n")
        self.stream.flush()

    def close(self) -> None:
        return None
