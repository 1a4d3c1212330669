"""`connection: local`: run on the control node itself, through the same interface."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence

from engine.connection.base import CommandResult, Connection, command_line


class LocalConnection(Connection):
    def __init__(self, host: str, become_password: str | None = None) -> None:
        self.host = host
        self.become_password = become_password
        self.commands_run = 0

    def run(self, argv: Sequence[str], *, stdin: bytes | None = None,
            timeout: float | None = None, become: bool = False) -> CommandResult:
        line = command_line(argv, become, self.become_password is not None)
        if become and self.become_password is not None:
            stdin = self.become_password.encode() + b"\n" + (stdin or b"")
        self._count_command()
        started = time.monotonic()
        try:
            completed = subprocess.run(["/bin/sh", "-c", line], input=stdin or b"",
                                       capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return CommandResult(line, -1, "", f"timed out after {timeout} s",
                                 time.monotonic() - started)
        return CommandResult(line, completed.returncode,
                             completed.stdout.decode("utf-8", "replace"),
                             completed.stderr.decode("utf-8", "replace"),
                             time.monotonic() - started)

    def close(self) -> None:
        return None
