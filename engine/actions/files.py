"""What copy, template, file and fetch share: a remote path's current state (type, mode,
owner, group) read with one `stat`, the attribute differences as a pure compare, and the
one command that applies them.
"""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.actions.base import ActionContext, ActionError
from engine.actions.modes import apply_mode, explicit, is_symbolic, mode_problem

# %F last: it may hold spaces ("regular empty file"); the other fields never do.
STAT_FORMAT = "%a %u %g %U %G %F"
KINDS = {"regular file": "file", "regular empty file": "file", "directory": "directory",
         "symbolic link": "link"}
DIFF_LIMIT = 256 * 1024  # larger files are compared by checksum but not shown


@dataclass(frozen=True)
class PathState:
    """A remote path as `stat` saw it; `kind` is None when nothing is there."""

    kind: str | None = None   # file | directory | link | other
    mode: str = ""            # four octal digits, "0644"
    uid: str = ""
    gid: str = ""
    owner: str = ""
    group: str = ""

    @property
    def exists(self) -> bool:
        return self.kind is not None


ABSENT = PathState()


def parse_stat(line: str) -> PathState:
    """One line of `stat -c STAT_FORMAT`; an empty line means the path does not exist."""
    if not line.strip():
        return ABSENT
    mode, uid, gid, owner, group, kind = line.strip().split(" ", 5)
    return PathState(KINDS.get(kind, "other"), mode.zfill(4), uid, gid, owner, group)


def normalize_mode(value: Any) -> str | None:
    """"0644", "644" or a YAML octal int (0644 loads as 420) as four octal digits; a
    symbolic mode ("u=rwx,go=rx") as written, each clause saying whom it is for."""
    if value is None or value == "":
        return None
    problem = mode_problem(value)
    if problem is not None:
        raise ActionError(problem)
    text = format(value, "o") if isinstance(value, int) else str(value).strip()
    return explicit(text) if is_symbolic(text) else text.zfill(4)


def _is_same_account(current_id: str, current_name: str, desired: str | None) -> bool:
    return desired is None or desired in (current_id, current_name)


@dataclass(frozen=True)
class Attributes:
    """Desired mode/owner/group; None leaves that attribute as it is."""

    mode: str | None = None
    owner: str | None = None
    group: str | None = None

    def differing(self, current: PathState) -> Attributes:
        """Only the attributes `current` does not have yet. A symbolic mode is compared as
        the octal mode it gives the existing path (chmod applies it to a new one)."""
        mode = self.mode
        if mode is not None and is_symbolic(mode) and current.exists and current.mode:
            mode = format(apply_mode(mode, int(current.mode, 8),
                                     current.kind == "directory"), "04o")
        return Attributes(
            None if mode is None or current.mode == mode else mode,
            None if _is_same_account(current.uid, current.owner, self.owner) else self.owner,
            None if _is_same_account(current.gid, current.group, self.group) else self.group)

    def describe(self, current: PathState) -> tuple[str, ...]:
        """The differences from `current` as readable lines."""
        todo = self.differing(current)
        return tuple(f"{name} {old or '-'} -> {new}" for name, old, new in (
            ("mode", current.mode, todo.mode), ("owner", current.owner, todo.owner),
            ("group", current.group, todo.group)) if new is not None)

    @property
    def is_empty(self) -> bool:
        return self.mode is None and self.owner is None and self.group is None


def attributes_from(args: Mapping[str, Any]) -> Attributes:
    """The `mode`, `owner` and `group` arguments of a task."""
    return Attributes(normalize_mode(args.get("mode")), optional_text(args, "owner"),
                      optional_text(args, "group"))


def optional_text(args: Mapping[str, Any], key: str) -> str | None:
    value = args.get(key)
    return None if value is None or value == "" else str(value)


def attribute_commands(path: str, attributes: Attributes,
                       recurse: bool = False) -> list[list[str]]:
    """chown/chmod argument lists that set the given attributes (unconditionally)."""
    flags = ["-R"] if recurse else []
    owner, group, mode = attributes.owner, attributes.group, attributes.mode
    commands: list[list[str]] = []
    if owner is not None or group is not None:
        account = f"{owner or ''}:{group}" if group is not None else str(owner)
        commands.append(["chown", *flags, "--", account, path])
    if mode is not None:
        commands.append(["chmod", *flags, "--", mode, path])
    return commands


def chained(commands: Sequence[Sequence[str]]) -> list[str]:
    """Several argument lists as one `/bin/sh -c` command (one round trip); each argument is
    quoted by shlex.join, and the first failure stops the rest."""
    return ["/bin/sh", "-c", " && ".join(shlex.join(command) for command in commands)]


def run_checked(context: ActionContext, argv: list[str], what: str,
                stdin: bytes | None = None) -> str:
    """Run a command whose failure fails the action; its stdout otherwise."""
    result = context.run(argv, stdin=stdin)
    if not result.is_ok:
        raise ActionError(f"{what} failed ({result.exit_status}): {result.stderr_tail()}")
    return result.stdout


def unified_diff(path: str, old: bytes | None, new: bytes) -> str:
    """A readable diff of file content; `old` None means the file does not exist yet."""
    if (old is not None and len(old) > DIFF_LIMIT) or len(new) > DIFF_LIMIT:
        return f"{path}: content differs (too large to show)\n"
    try:
        old_text = "" if old is None else old.decode("utf-8")
        new_text = new.decode("utf-8")
    except UnicodeDecodeError:
        return f"{path}: binary content differs\n"
    lines = difflib.unified_diff(
        old_text.splitlines(keepends=True), new_text.splitlines(keepends=True),
        fromfile="/dev/null" if old is None else f"{path} (current)",
        tofile=f"{path} (desired)")
    return "".join(line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n"
                   for line in lines)
