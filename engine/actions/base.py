"""The shape every task action shares: read the current state, compare it with the
desired state (a pure function returning a `Change`), act only on the difference,
report an `Outcome`. Under --check an action stops after the compare.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.connection import CommandResult, Connection


class ActionError(Exception):
    """The action could not do its job on this host; the step fails with this message."""


# The environment reaches a command through its stdin, never its arguments (which any user
# of the host can read with `ps`): `$1` bytes of `export NAME='value'` lines come first, read
# one byte at a time by dd so that the rest of stdin is left to the command itself.
ENVIRONMENT_SCRIPT = 'eval "$(dd bs=1 count="$1" 2>/dev/null)" || exit 125; shift; exec "$@"'


def with_environment(argv: list[str], stdin: bytes | None,
                     environment: Mapping[str, str]) -> tuple[list[str], bytes | None]:
    """`argv` and `stdin` that run the command with `environment` exported (the values
    quoted by shlex, so that `$(...)` or quotes in them stay text)."""
    if not environment:
        return argv, stdin
    script = "".join(f"export {name}={shlex.quote(value)}\n"
                     for name, value in environment.items()).encode("utf-8")
    return (["/bin/sh", "-c", ENVIRONMENT_SCRIPT, "play-env", str(len(script)), *argv],
            script + (stdin or b""))


@dataclass(frozen=True)
class ActionContext:
    connection: Connection
    check: bool                       # --check: report what would change, change nothing
    diff: bool                        # --diff: include a unified diff of file changes
    become: bool                      # run privileged commands through sudo
    timeout: float | None             # per-command timeout of the task
    render_file: Callable[[str], str]  # render a control-node template file for this host
    # the value of an expression (`when:`'s language) with the task's variables; an
    # undefined name raises ActionError
    evaluate: Callable[[str], Any] = field(default=lambda expression: _no_scope())
    # run the handlers notified so far on this host, now (meta: flush_handlers)
    flush_handlers: Callable[[], Outcome] = field(default=lambda: _no_scope())
    become_user: str | None = None    # sudo -u (None: root)
    environment: Mapping[str, str] = field(default_factory=dict)  # the task's `environment:`

    def run(self, argv: list[str], stdin: bytes | None = None) -> CommandResult:
        argv, stdin = with_environment(argv, stdin, self.environment)
        return self.connection.run(argv, stdin=stdin, timeout=self.timeout, become=self.become,
                                   become_user=self.become_user if self.become else None)


@dataclass(frozen=True)
class Change:
    """What an action would change; empty `what` means nothing to do."""

    what: tuple[str, ...] = ()
    diff: str | None = None

    @property
    def is_needed(self) -> bool:
        return bool(self.what)


@dataclass(frozen=True)
class Outcome:
    changed: bool = False
    failed: bool = False
    skipped: bool = False             # e.g. a command under --check, or `creates` exists
    msg: str = ""
    diff: str | None = None
    rc: int | None = None
    stdout: str = ""
    stderr: str = ""
    facts: Mapping[str, Any] = field(default_factory=dict)  # extra values for `register`
    # variables the host has from now on (Ansible's `ansible_facts` of a module's result):
    # setup's facts, set_fact's values
    ansible_facts: Mapping[str, Any] = field(default_factory=dict)
    shows_msg: bool = False           # a message for the user (debug), shown even when ok

    def registered(self) -> dict[str, Any]:
        """The value `register:` stores, shaped like Ansible's."""
        value: dict[str, Any] = {"changed": self.changed, "failed": self.failed,
                                 "skipped": self.skipped, "msg": self.msg, **self.facts}
        if self.rc is not None:
            value.update(rc=self.rc, stdout=self.stdout, stderr=self.stderr,
                         stdout_lines=self.stdout.splitlines(),
                         stderr_lines=self.stderr.splitlines())
        return value


def _no_scope() -> Any:
    raise ActionError("this action needs the task's variables, which the caller did not give")


Action = Callable[[Mapping[str, Any], ActionContext], Outcome]
