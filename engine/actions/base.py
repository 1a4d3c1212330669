"""The shape every task action shares: read the current state, compare it with the
desired state (a pure function returning a `Change`), act only on the difference,
report an `Outcome`. Under --check an action stops after the compare.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.connection import CommandResult, Connection


class ActionError(Exception):
    """The action could not do its job on this host; the step fails with this message."""


@dataclass(frozen=True)
class ActionContext:
    connection: Connection
    check: bool                       # --check: report what would change, change nothing
    diff: bool                        # --diff: include a unified diff of file changes
    become: bool                      # run privileged commands through sudo
    timeout: float | None             # per-command timeout of the task
    render_file: Callable[[str], str]  # render a control-node template file for this host

    def run(self, argv: list[str], stdin: bytes | None = None) -> CommandResult:
        return self.connection.run(argv, stdin=stdin, timeout=self.timeout, become=self.become)


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
    # variables the host has from now on (Ansible's `ansible_facts` of a module's result)
    ansible_facts: Mapping[str, Any] = field(default_factory=dict)

    def registered(self) -> dict[str, Any]:
        """The value `register:` stores, shaped like Ansible's."""
        value: dict[str, Any] = {"changed": self.changed, "failed": self.failed,
                                 "skipped": self.skipped, "msg": self.msg, **self.facts}
        if self.rc is not None:
            value.update(rc=self.rc, stdout=self.stdout, stderr=self.stderr,
                         stdout_lines=self.stdout.splitlines(),
                         stderr_lines=self.stderr.splitlines())
        return value


Action = Callable[[Mapping[str, Any], ActionContext], Outcome]
