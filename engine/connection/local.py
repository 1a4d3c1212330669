"""`connection: local`: run on the control node itself, through the same interface.

Plain commands run as a subprocess (the file registry and its lock run many short
scripts here: a thread-free subprocess is the cheapest). Become with a password goes
through invoke's `Context.sudo`, whose watcher answers sudo's own prompt and only that,
with the same tuned runner and marker protocol as the SSH connections.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence

from engine.connection.base import SUDO_PROMPT, CommandResult, Connection, command_line


class LocalConnection(Connection):
    def __init__(self, host: str, become_password: str | None = None) -> None:
        self.host = host
        self.become_password = become_password
        self.commands_run = 0

    def run(self, argv: Sequence[str], *, stdin: bytes | None = None,
            timeout: float | None = None, become: bool = False,
            become_user: str | None = None) -> CommandResult:
        if become and self.become_password is not None:
            return self._sudo(argv, stdin, timeout, self.become_password, become_user)
        line = command_line(argv, become, become_user=become_user)
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

    def _sudo(self, argv: Sequence[str], stdin: bytes | None, timeout: float | None,
              password: str, become_user: str | None) -> CommandResult:
        from invoke.config import Config
        from invoke.context import Context

        from engine.connection.runners import FastLocal, command_result, sudo

        self._count_command()
        context = Context(Config(overrides={
            "runners": {"local": FastLocal},
            "run": {"warn": True, "hide": True, "shell": "/bin/sh"},
            "sudo": {"prompt": SUDO_PROMPT},
        }))
        return command_result(command_line(argv, True, True, become_user), timeout,
                              "sudo refused the become password",
                              lambda: sudo(context, argv, password, stdin, timeout, become_user))

    def close(self) -> None:
        return None
