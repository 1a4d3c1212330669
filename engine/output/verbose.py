"""-v, -vv, -vvv: the commands a run sends, their output, and how each host was reached,
as events (so the one Reporter redacts them like every other output, engine/output/
redaction.py). A no_log task's commands are shown as hidden, never as sent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.results import Event

if TYPE_CHECKING:
    from engine.connection import CommandResult, ConnectionSettings

HIDDEN = "(command hidden by no_log)"
OUTPUT_LIMIT = 4000  # characters of each stream at -vv: a cat of a large file stays readable


class CommandTrace:
    """Turns a connection's commands into `command` events and its opening into a
    `connect` event; `step_started` marks the thread's current step as no_log or not."""

    def __init__(self, verbosity: int, emit: Callable[[Event], None]) -> None:
        self.verbosity = verbosity
        self.emit = emit
        self._current = threading.local()

    def step_started(self, is_no_log: bool) -> None:
        self._current.is_no_log = is_no_log

    def command(self, host: str, result: CommandResult) -> None:
        if getattr(self._current, "is_no_log", False):
            self.emit(Event("command", host=host, data={"command": HIDDEN}))
            return
        data: dict[str, object] = {"command": result.command, "rc": result.exit_status,
                                   "duration": round(result.duration, 3)}
        if self.verbosity >= 2:
            data["stdout"] = result.stdout[-OUTPUT_LIMIT:]
            data["stderr"] = result.stderr[-OUTPUT_LIMIT:]
        self.emit(Event("command", host=host, data=data))

    def connected(self, settings: ConnectionSettings, seconds: float) -> None:
        self.emit(Event("connect", host=settings.host, data=connection_details(settings,
                                                                               seconds)))


def connection_details(settings: ConnectionSettings, seconds: float) -> dict[str, object]:
    """What -vvv shows of a connection: never a password, only whether there is one."""
    endpoint = settings.endpoint
    details: dict[str, object] = {"connection": settings.connection,
                                  "seconds": round(seconds, 3)}
    if settings.connection == "ssh":
        details.update({
            "target": f"{endpoint.user}@{endpoint.address}:{endpoint.port}",
            "keys": list(settings.key_files), "known_hosts": settings.known_hosts,
            "host_key_policy": settings.host_key_policy,
            "jumps": [f"{hop.user}@{hop.address}:{hop.port}" for hop in settings.jumps],
            "proxy_command": settings.proxy_command,
            "password": settings.ssh_password is not None})
    details["become"] = settings.become
    details["become_password"] = settings.become_password is not None
    return details


def command_lines(event: Event) -> list[str]:
    """A `command` or `connect` event as the plain console shows it."""
    data = event.data
    if event.kind == "connect":
        shown = ", ".join(f"{key} {value}" for key, value in data.items()
                          if value not in (None, [], ""))
        return [f"{event.host} connected: {shown}"]
    if "rc" not in data:
        return [f"{event.host} $ {data['command']}"]
    lines = [f"{event.host} $ {data['command']}  (rc {data['rc']}, {data['duration']:.3f}s)"]
    for stream in ("stdout", "stderr"):
        text = str(data.get(stream) or "").rstrip("\n")
        lines += [f"{event.host}   {stream}: {line}" for line in text.splitlines()]
    return lines
