"""`--report FILE`: keeps the run's events as the `--json` sink writes them and, when the
run ends, writes the HTML page of output/report.py to FILE (private, like `--log`: it
holds what hosts answered; replaced whole, never half-written).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from engine.output.jsonlines import event_record
from engine.output.report import render_report
from engine.results import Event


class ReportWriter:
    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.records: list[dict[str, Any]] = []

    def handle(self, event: Event) -> None:
        if event.result is not None and event.result.is_hidden:
            return
        self.records.append(event_record(event))

    def close(self) -> None:
        page = render_report(self.records)
        # mkstemp makes the file 0600; the rename replaces an old report in one step
        descriptor, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.",
                                                 dir=self.path.parent or Path("."))
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
                stream.write(page)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
