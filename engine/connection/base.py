"""What every connection offers the actions: run an argument list, write a file,
close. Results are plain data; counting, timing and redaction live here and in the
executor, never in the actions.
"""

from __future__ import annotations

import shlex
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class CommandResult:
    command: str            # the exact line the remote shell received
    exit_status: int        # -1 when the command timed out or the channel broke
    stdout: str
    stderr: str
    duration: float

    @property
    def is_ok(self) -> bool:
        return self.exit_status == 0

    def stderr_tail(self, lines: int = 5) -> str:
        return "\n".join((self.stderr or self.stdout).strip().splitlines()[-lines:])


class UnreachableError(Exception):
    """The host cannot be reached or refused us (auth, host key): its steps are skipped."""


class Connection(ABC):
    """One host's connection, opened once per run and shared by its steps (thread-safe)."""

    host: str
    commands_run: int = 0
    _count_lock = threading.Lock()  # steps on one host run commands from several threads

    def _count_command(self) -> None:
        with self._count_lock:
            self.commands_run += 1

    @abstractmethod
    def run(self, argv: Sequence[str], *, stdin: bytes | None = None,
            timeout: float | None = None, become: bool = False) -> CommandResult:
        """Run one command, given as arguments: they are quoted here, never by the caller."""

    def put(self, content: bytes, path: str, *, mode: str | None = None,
            become: bool = False) -> CommandResult:
        """Write a file atomically: a temporary file beside it, then rename."""
        # the size check keeps a transfer cut short from replacing a good file
        script = ('set -e; dest=$1; mode=$2; size=$3; tmp="$dest.play-tmp.$$"; '
                  'trap \'rm -f "$tmp"\' EXIT; cat > "$tmp"; '
                  '[ "$(wc -c < "$tmp")" -eq "$size" ] || '
                  '{ echo "short write: $(wc -c < "$tmp") of $size bytes" >&2; exit 1; }; '
                  'if [ -n "$mode" ]; then chmod "$mode" "$tmp"; '
                  'elif [ -e "$dest" ]; then chmod "$(stat -c %a "$dest")" "$tmp"; fi; '
                  'mv -f "$tmp" "$dest"; trap - EXIT')
        return self.run(["/bin/sh", "-c", script, "play-put", path, mode or "",
                         str(len(content))], stdin=content, become=become)

    @abstractmethod
    def close(self) -> None: ...


# Linux refuses an exec argument longer than MAX_ARG_STRLEN (32 pages: 131072 bytes with its
# NUL), and the remote shell receives the whole command line as one (`sh -c LINE`).
MAX_COMMAND_LINE = 131071


def command_line_size_problem(line: str) -> str | None:
    size = len(line.encode("utf-8", "surrogateescape"))
    if size <= MAX_COMMAND_LINE:
        return None
    return (f"its command line would be {size} bytes; a host's shell takes at most "
            f"{MAX_COMMAND_LINE} (Linux's limit on one argument): move the long values into "
            "a file on the host (copy or template) and pass its path")


def command_line(argv: Sequence[str], become: bool, become_password: bool = False) -> str:
    """The single line a remote shell receives; every argument is quoted."""
    if not argv:
        raise ValueError("empty command")
    if become:
        # DOCKER_HOST picks the engine a login talks to; sudo would drop it
        prefix = ["sudo", "--preserve-env=DOCKER_HOST"]
        prefix += ["-S", "-p", ""] if become_password else ["-n"]
        argv = [*prefix, "--", *argv]
    return shlex.join(argv)
