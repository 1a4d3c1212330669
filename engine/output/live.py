"""The console on a terminal: a live table (per host: the step in flight and the counts
so far) redrawn by rich, failures and diffs printed above it as they happen, and the
recap at the end. Only imported when stdout is a TTY.
"""

from __future__ import annotations

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from engine.output.terminal import printable
from engine.results import RECAP_COLUMNS, Event, Recap

STYLES = {"ok": "green", "changed": "yellow", "failed": "red", "skipped": "cyan",
          "unreachable": "magenta", "ignored": "blue",
          "rescued": "cyan"}


class LiveConsole:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self.current: dict[str, str] = {}
        self.recap = Recap()
        self.live = Live(self._table(), console=self.console, refresh_per_second=8,
                         transient=True)
        self.live.start()

    def _table(self) -> Table:
        table = Table(box=None, show_header=True, header_style="bold")
        table.add_column("host")
        table.add_column("now")
        for status in RECAP_COLUMNS:
            table.add_column(status, justify="right", style=STYLES[status])
        for host in sorted(set(self.current) | set(self.recap.counts)):
            counts = self.recap.counts.get(host, dict.fromkeys(RECAP_COLUMNS, 0))
            cells = (str(counts[column]) for column in RECAP_COLUMNS)
            table.add_row(Text(host), Text(printable(self.current.get(host, ""))), *cells)
        return table

    def handle(self, event: Event) -> None:
        if event.kind == "step_start" and event.host:
            self.current[event.host] = event.step or ""
        elif event.kind == "step_end" and event.result and not event.result.is_hidden:
            result = event.result
            self.recap.add(result)
            self.current[result.host] = ""
            if result.status in ("failed", "unreachable"):
                label = "ignored" if result.is_ignored else result.status
                # user text (step names, messages) is never read as rich markup
                line = Text(label, style=STYLES[result.status])
                line.append(printable(f" {result.host} {event.step} [{event.play}]: "
                                      f"{result.msg}"))
                self.console.print(line, highlight=False)
            if result.diff:
                self.console.print(Text(printable(f"{result.host} {event.step}:")),
                                   highlight=False)
                self.console.print(Text(printable(result.diff.rstrip("\n"))), highlight=False)
        elif event.kind == "warning":
            self.console.print(Text(printable(f"warning: {event.data['msg']}")),
                               highlight=False)
        elif event.kind == "recap":
            self.live.stop()
            self._print_recap(event.data["recap"], event.data["wall_time"])
            return
        self.live.update(self._table())

    def _print_recap(self, recap: Recap, wall_time: float) -> None:
        table = Table(title="recap", box=None, header_style="bold")
        table.add_column("host")
        for status in RECAP_COLUMNS:
            table.add_column(status, justify="right")
        for host in sorted(recap.counts):
            counts = recap.counts[host]
            table.add_row(host, *(Text(str(counts[s]), style=STYLES[s] if counts[s] else "")
                                  for s in RECAP_COLUMNS))
        self.console.print(table)
        self.console.print(f"wall time {wall_time:.2f} s", highlight=False)

    def close(self) -> None:
        self.live.stop()
