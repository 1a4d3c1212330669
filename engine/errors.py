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
    """'; did you mean 'x'?' for the closest of `choices`, or '' when nothing is close.
    Short words need more than a similarity ratio: 'db' and 'web' share one letter of
    two, yet 'db' is no typo of 'web'; there, only one slip (a letter changed, added,
    dropped or two swapped) counts."""
    ordered = sorted(choices)
    close = difflib.get_close_matches(word, ordered, n=3, cutoff=0.6)
    if len(word) <= 4:
        close = [choice for choice in close if _slips(word, choice) <= 1] or \
            [choice for choice in ordered if _slips(word, choice) <= 1][:1]
    return f"; did you mean {close[0]!r}?" if close else ""


def _slips(word: str, other: str) -> int:
    """Optimal string alignment distance: edits, a swap of neighbours counting as one."""
    if abs(len(word) - len(other)) > 1:
        return 2
    rows = [list(range(len(other) + 1))]
    for i, char in enumerate(word, start=1):
        row = [i]
        for j, other_char in enumerate(other, start=1):
            cost = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (char != other_char))
            if i > 1 and j > 1 and char == other[j - 2] and word[i - 2] == other_char:
                cost = min(cost, rows[-2][j - 2] + 1)
            row.append(cost)
        rows.append(row)
    return rows[-1][-1]
