"""`command` (an argument list, no shell) and `shell` (a script for /bin/sh -c).

One round trip: `creates`/`removes`/`chdir` are checked by a small wrapper on the host
that then execs the command. Changed whenever it ran, as in Ansible.
"""

from __future__ import annotations

import functools
import secrets
import shlex
from collections.abc import Mapping
from typing import Any

from engine.actions.base import Action, ActionContext, ActionError, Outcome
from engine.connection import CommandResult

# $1 creates, $2 removes, $3 chdir, $4 skip marker, then the command. IFS is emptied so
# that the globs in creates/removes expand (as Ansible's do) without word splitting.
GUARD_SCRIPT = """creates=$1 removes=$2 chdir=$3 skip=$4; shift 4
IFS=
if [ -n "$creates" ]; then
  for found in $creates; do
    if [ -e "$found" ]; then echo "$skip $found exists"; exit 0; fi
  done
fi
if [ -n "$removes" ]; then
  for found in $removes; do [ -e "$found" ] && break; found=; done
  if [ -z "$found" ]; then echo "$skip $removes does not exist"; exit 0; fi
fi
if [ -n "$chdir" ]; then cd -- "$chdir" || exit; fi
exec "$@"
"""


def as_mapping(args: Mapping[str, Any] | str) -> Mapping[str, Any]:
    """A free-form `command: echo hi` arrives as a string: it is the `cmd`."""
    return {"cmd": args} if isinstance(args, str) else args


def command_argv(args: Mapping[str, Any]) -> list[str]:
    """The argument list of a `command` task: `argv` as given, or `cmd` split like a shell."""
    if args.get("argv"):
        return [str(part) for part in args["argv"]]
    return _split(str(args.get("cmd") or ""))


def _split(line: str) -> list[str]:
    return list(_split_once(line))


@functools.lru_cache(maxsize=1024)
def _split_once(line: str) -> tuple[str, ...]:
    """shlex is slow (~30 us a line) and a task runs the same line on every host."""
    try:
        argv = tuple(shlex.split(line))
    except ValueError as error:
        raise ActionError(f"cannot split the command {line!r}: {error}") from None
    if not argv:
        raise ActionError("the command is empty")
    return argv


def shell_argv(args: Mapping[str, Any]) -> list[str]:
    return [str(args.get("executable") or "/bin/sh"), "-c", str(args.get("cmd") or "")]


def guarded(argv: list[str], args: Mapping[str, Any]) -> tuple[list[str], str | None]:
    """`argv` behind the creates/removes/chdir wrapper, and the marker the wrapper prints
    when it skips; `argv` unchanged, and no marker, when no guard is given."""
    guards = [str(args.get(key) or "") for key in ("creates", "removes", "chdir")]
    if not any(guards):
        return argv, None
    # A fresh marker per run: a command's own output can never be mistaken for a skip.
    marker = f"play-skip-{secrets.token_hex(8)}"
    return ["/bin/sh", "-c", GUARD_SCRIPT, "play-command", *guards, marker, *argv], marker


def stdin_bytes(args: Mapping[str, Any]) -> bytes | None:
    """`stdin` with a final newline, as Ansible adds one."""
    text = args.get("stdin")
    if text is None:
        return None
    text = str(text)
    return (text if text.endswith("\n") else f"{text}\n").encode()


def outcome_of(result: CommandResult, marker: str | None,
               facts: Mapping[str, Any]) -> Outcome:
    if marker is not None and result.exit_status == 0 and \
            result.stdout.startswith(f"{marker} "):
        return Outcome(skipped=True, msg=f"skipped: {result.stdout[len(marker) + 1:].strip()}",
                       facts=facts)
    stdout, stderr = result.stdout.rstrip("\r\n"), result.stderr.rstrip("\r\n")
    if result.exit_status == -1:
        msg = f"command {result.stderr_tail(1)}"
    elif result.exit_status != 0:
        msg = f"command exited with status {result.exit_status}: {result.stderr_tail()}"
    else:
        msg = ""
    return Outcome(changed=True, failed=result.exit_status != 0, msg=msg,
                   rc=result.exit_status, stdout=stdout, stderr=stderr, facts=facts)


def run_command(argv: list[str], args: Mapping[str, Any], context: ActionContext) -> Outcome:
    if context.check:
        return Outcome(skipped=True, msg="skipped in check mode")
    guarded_argv, marker = guarded(argv, args)
    result = context.run(guarded_argv, stdin=stdin_bytes(args))
    return outcome_of(result, marker, {"cmd": argv})


def command(args: Mapping[str, Any], context: ActionContext) -> Outcome:
    options = as_mapping(args)
    return run_command(command_argv(options), options, context)


def shell(args: Mapping[str, Any], context: ActionContext) -> Outcome:
    options = as_mapping(args)
    return run_command(shell_argv(options), options, context)


ACTIONS: dict[str, Action] = {"command": command, "shell": shell}
