"""`validate` and `backup` of the actions that replace a whole file (copy, template,
lineinfile, blockinfile): the new content is checked on the host before it replaces the
old file, and the old file can be kept beside it, as Ansible does.
"""

from __future__ import annotations

import posixpath
import secrets
import shlex
import time

from engine.actions.base import ActionContext, ActionError
from engine.actions.files import run_checked

# $1 the file to remove afterwards, then the validate command: its status is the answer
VALIDATE_SCRIPT = """candidate=$1; shift
"$@"; status=$?
rm -f -- "$candidate"
exit $status"""


def validate_argv(command: str, candidate: str) -> list[str]:
    """The validate command with `%s` standing for the candidate file, split like a shell
    line but run without one (Ansible's rule); it must name `%s`."""
    if "%s" not in command:
        raise ActionError(f"validate must contain %s (the file to check), not {command!r}")
    try:
        words = shlex.split(command)
    except ValueError as error:
        raise ActionError(f"cannot split the validate command {command!r}: {error}") from None
    return [word.replace("%s", candidate) for word in words]


def candidate_path(path: str) -> str:
    """A private name beside the file (the same file system, so the same rules apply)."""
    folder, name = posixpath.split(path)
    return posixpath.join(folder, f".{name}.play-validate-{secrets.token_hex(6)}")


def validate(context: ActionContext, path: str, content: bytes, command: str) -> None:
    """Write `content` to a 0600 candidate beside `path`, run the command on it; a failure
    leaves `path` as it was and fails the action with the command's own words."""
    candidate = candidate_path(path)
    argv = validate_argv(command, candidate)
    written = context.connection.put(content, candidate, mode="0600", become=context.become)
    if not written.is_ok:
        raise ActionError(f"writing the file to validate failed: {written.stderr_tail()}")
    result = context.run(["/bin/sh", "-c", VALIDATE_SCRIPT, "play-validate", candidate, *argv])
    if not result.is_ok:
        output = result.stderr_tail() or result.stdout.strip()[-500:]
        said = f": {output}" if output else ""
        raise ActionError(f"validate refused the new {path} ({shlex.join(argv)} exited "
                          f"{result.exit_status}){said}; the file is unchanged")


def backup_path(path: str, now: float | None = None) -> str:
    """`<path>.<timestamp>~` as Ansible names its backups."""
    stamp = time.strftime("%Y-%m-%d@%H:%M:%S", time.localtime(now))
    return f"{path}.{stamp}~"


def back_up(context: ActionContext, path: str) -> str:
    """Copy the current file (mode, owner and times kept) to its backup name; the name."""
    target = backup_path(path)
    run_checked(context, ["cp", "-p", "--", path, target], f"backing up {path}")
    return target
