"""Plain lines for cron and `--log`: one line per finished step, then the recap.
No colour, no cursor movement; each line stands alone for grep."""

from __future__ import annotations

import time
from typing import TextIO

from engine.output.terminal import printable
from engine.output.verbose import command_lines
from engine.results import RECAP_COLUMNS, Event, Recap


def recap_lines(recap: Recap, wall_time: float) -> list[str]:
    width = max([len("host"), *(len(host) for host in recap.counts)])
    header = f"{'RECAP':<{width}}  " + " ".join(f"{status:>11}" for status in RECAP_COLUMNS)
    lines = [header]
    for host in sorted(recap.counts):
        counts = recap.counts[host]
        lines.append(f"{host:<{width}}  " + " ".join(f"{counts[s]:>11}" for s in RECAP_COLUMNS))
    lines.append(f"wall time {wall_time:.2f} s")
    return lines


class PlainWriter:
    def __init__(self, stream: TextIO, owns_stream: bool = False) -> None:
        self.stream = stream
        self.owns_stream = owns_stream

    def _write(self, line: str) -> None:
        self.stream.write(printable(line) + "\n")
        self.stream.flush()

    def handle(self, event: Event) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(event.time))
        if event.kind == "run_start":
            self._write(f"{stamp} run {event.data['playbook']} on "
                        f"{len(event.data['hosts'])} hosts"
                        + (" (check mode)" if event.data.get("check") else ""))
        elif event.kind == "step_end" and event.result and not event.result.is_hidden:
            result = event.result
            status = "ignored" if result.is_ignored else result.status
            line = (f"{stamp} {result.host} {status:<11} {event.step} [{event.play}] "
                    f"({result.duration:.2f}s)")
            if result.msg and (result.status in ("failed", "unreachable", "skipped")
                               or result.shows_msg or (result.status == "changed" and
                                                       str(event.step).startswith("container "))):
                # debug's message; a changed container says what it did and why
                line += f": {result.msg}"
            self._write(line)
            if result.diff:
                self._write(result.diff.rstrip("\n"))
        elif event.kind == "warning":
            self._write(f"{stamp} warning: {event.data['msg']}")
        elif event.kind in ("command", "connect"):
            for line in command_lines(event):
                self._write(f"{stamp} {line}")
        elif event.kind == "recap":
            for line in recap_lines(event.data["recap"], event.data["wall_time"]):
                self._write(line)

    def close(self) -> None:
        if self.owns_stream:
            self.stream.close()
