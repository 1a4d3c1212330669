"""What a step did on a host, and the events a run emits: the plain data that the
executor hands to the console, `--json` and `--log` writers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["ok", "changed", "failed", "skipped", "unreachable"]
STATUSES: tuple[Status, ...] = ("ok", "changed", "failed", "skipped", "unreachable")
# the recap's columns: the statuses, plus failures that `ignore_errors` let through and
# failures of a block that its `rescue:` tasks then ran for (Ansible's "rescued")
RECAP_COLUMNS = (*STATUSES, "ignored", "rescued")


@dataclass(frozen=True)
class StepResult:
    host: str
    step: str                   # step id
    status: Status
    msg: str = ""
    diff: str | None = None
    duration: float = 0.0
    is_ignored: bool = False    # failed, but `ignore_errors` let the run go on
    is_hidden: bool = False     # a handler nobody notified: not counted, not shown
    is_blocked: bool = False    # skipped because something it needs did not succeed
    is_rescued: bool = False    # failed in a block with `rescue:`: the rescue decides

    @property
    def has_changed(self) -> bool:
        return self.status == "changed"

    @property
    def lets_dependents_run(self) -> bool:
        """Succeeded, or skipped by its own condition, or failed with ignore_errors."""
        if self.status == "failed":
            return self.is_ignored
        return self.status != "unreachable" and not self.is_blocked


EventKind = Literal["run_start", "step_start", "step_end", "recap", "warning"]


@dataclass(frozen=True)
class Event:
    kind: EventKind
    host: str | None = None
    play: str | None = None
    step: str | None = None     # "task config dir", "container api"
    result: StepResult | None = None
    data: dict[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=time.time)


@dataclass
class Recap:
    """Per-host counts of a run, for the recap table and the exit status."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, result: StepResult) -> None:
        if result.is_hidden:
            return
        host = self.counts.setdefault(result.host, dict.fromkeys(RECAP_COLUMNS, 0))
        column = "ignored" if result.is_ignored else "rescued" if result.is_rescued else \
            result.status
        host[column] += 1

    def total(self, status: str) -> int:
        return sum(host[status] for host in self.counts.values())
