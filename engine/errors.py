"""The error a user can cause, and the exit statuses of a run.

Every loader raises `InputError` with the file and line it found the mistake
on; the CLI prints it as `file:line: message` and exits with `EXIT_INVALID`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

EXIT_OK = 0
EXIT_FAILED = 1  # the tool itself could not do what was asked (e.g. the lab)
EXIT_STEP_FAILED = 2
EXIT_UNREACHABLE = 3
EXIT_INVALID = 4
EXIT_LOCK_BUSY = 5
EXIT_DRIFT = 6
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Location:
    """Where in a user's file something was written. `line` is 1-based; 0 when unknown."""

    file: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


class InputError(Exception):
    """Invalid input: a playbook, inventory, variable or option. Exit status 4."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class UnreachableError(Exception):
    """A host cannot be reached, refused us (auth, host key) or its connection broke: its
    remaining steps are reported unreachable without being tried (exit status 3). Raised by
    the connection layer, caught by the scheduler."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """'; did you mean 'x'?' for the closest of `choices`, or '' when nothing is close."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
