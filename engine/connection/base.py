"""What every connection offers the actions: run an argument list, write a file,
close. Results are plain data; counting, timing and redaction live here and in the
executor, never in the actions.
"""

from __future__ import annotations

import secrets
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
            timeout: float | None = None, become: bool = False,
            become_user: str | None = None) -> CommandResult:
        """Run one command, given as arguments: they are quoted here, never by the caller.
        With `become`, through sudo, as root or as `become_user`."""

    def put(self, content: bytes, path: str, *, mode: str | None = None,
            become: bool = False, become_user: str | None = None) -> CommandResult:
        """Write a file atomically: an exclusive, random, 0600 temporary file beside it
        (mktemp under umask 077), then rename. Without `mode` the file keeps the mode and
        owner of the file it replaces (of a symlink's target, never the link's own 0777),
        or gets the login's umask when new (as Ansible's copy)."""
        return self.run(["/bin/sh", "-c", PUT_SCRIPT, "play-put", path, mode or "",
                         str(len(content))], stdin=content, become=become,
                        become_user=become_user)

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


# The sudo prompt play watches for and the line a command prints once sudo let it run:
# random per run, so that no command's output can ask for the password (Ansible does the
# same with its become key). Both are taken out of the command's stderr.
_TOKEN = secrets.token_hex(8)
SUDO_PROMPT = f"[play sudo {_TOKEN}] "
BECOME_MARKER = f"play-become-{_TOKEN}"


def sudo_arguments(argv: Sequence[str], become_user: str | None = None) -> str:
    """What follows `sudo -S -p PROMPT` when sudo may ask for a password (Fabric's `sudo`
    adds those): DOCKER_HOST picks the engine a login talks to and sudo would drop it; the
    marker line tells the runner that sudo is done reading its stdin."""
    return shlex.join([*_as_user(become_user), "--preserve-env=DOCKER_HOST", "--", "/bin/sh",
                       "-c", 'printf "%s\\n" "$0" >&2; exec "$@"', BECOME_MARKER, *argv])


def _as_user(become_user: str | None) -> list[str]:
    """sudo's `-H -u USER` (as Ansible's sudo become: HOME is the user's own)."""
    return [] if become_user is None else ["-H", "-u", become_user]


def command_line(argv: Sequence[str], become: bool, become_password: bool = False,
                 become_user: str | None = None) -> str:
    """The single line a remote shell receives; every argument is quoted."""
    if not argv:
        raise ValueError("empty command")
    if not become:
        return shlex.join(argv)
    if become_password:
        return f"sudo -S -p '{SUDO_PROMPT}' {sudo_arguments(argv, become_user)}"
    return shlex.join(["sudo", *_as_user(become_user), "--preserve-env=DOCKER_HOST", "-n", "--",
                       *argv])


def without_become_chatter(stderr: str) -> str:
    """A command's stderr without sudo's prompt and the become marker line."""
    if BECOME_MARKER not in stderr and SUDO_PROMPT not in stderr:
        return stderr
    stderr = stderr.replace(SUDO_PROMPT, "")
    return stderr.replace(BECOME_MARKER + "\n", "", 1)


# Keep the file's mode and owner (through a symlink: `stat -L`), or the login umask's
# mode for a new file; the temp file is 0600 until complete, its name random and created
# exclusively (mktemp), so nobody can read it early or plant a link to it. The size check
# keeps a transfer cut short from replacing a good file.
PUT_SCRIPT = (
    'set -e; dest=$1; mode=$2; size=$3; login_umask=$(umask); umask 077; '
    'folder=$(dirname -- "$dest"); [ -d "$folder" ] || '
    '{ echo "cannot write $dest: $folder is nonexistent or not a directory" >&2; exit 1; }; '
    'tmp=$(mktemp -- "$folder/.play-tmp.XXXXXXXXXX"); '
    'trap \'rm -f -- "$tmp"\' EXIT; cat > "$tmp"; '
    '[ "$(wc -c < "$tmp")" -eq "$size" ] || '
    '{ echo "short write: $(wc -c < "$tmp") of $size bytes" >&2; exit 1; }; '
    'if [ -e "$dest" ]; then chown -- "$(stat -L -c %u:%g -- "$dest")" "$tmp" 2>/dev/null '
    '|| true; fi; '
    'base() { if [ -e "$dest" ]; then stat -L -c %a -- "$dest"; '
    'else printf %o $((0666 & ~0$login_umask)); fi; }; '
    # a symbolic mode (g+w) applies to the mode the file would have had, worked out on an
    # empty file: the written one never holds its content under a wider mode on the way
    'case $mode in *[!0-7]*) probe=$(mktemp -- "$folder/.play-tmp.XXXXXXXXXX"); '
    'chmod -- "$(base)" "$probe" && chmod -- "$mode" "$probe" && '
    'mode=$(stat -c %a -- "$probe"); rm -f -- "$probe";; esac; '
    'if [ -n "$mode" ]; then chmod -- "$mode" "$tmp"; '
    'else chmod -- "$(base)" "$tmp"; fi; '
    'mv -f -- "$tmp" "$dest"; trap - EXIT')
