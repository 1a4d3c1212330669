"""The values Ansible's structure is expanded with (engine/playbook/structure.py walks
it, engine/playbook/roles.py expands roles): the `Context` blocks, includes and roles give a
task, one expanded `TaskEntry`, one play's `Expansion`; and, once a task is parsed, what its
context gives the `Step`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.errors import InputError, Location
from engine.playbook.keywords import LOOP_KEYS, merged_environment
from engine.playbook.model import BlockSpec, Step, TaskSpec, step_id
from engine.schema import Fields

# keywords combined with a task's own instead of overridden by it
MERGED_KEYWORDS = ("when", "tags", "vars")
# keywords Ansible refuses on a block or a static import too (they need a task's result)
TASK_ONLY = ("register", *LOOP_KEYS, "loop_control", "until", "retries", "delay", "notify",
             "changed_when", "failed_when", "listen")
COMING_FROM_ANSIBLE = "see docs/coming-from-ansible.md"


@dataclass(frozen=True)
class Context:
    """What the blocks, includes and roles around a task give it."""

    prefix: str = ""                                   # "nginx : " inside role nginx
    suffix: str = ""                                   # " (alice)" in a looped include
    when: tuple[Any, ...] = ()
    tags: frozenset[str] = frozenset()
    vars: Mapping[str, Any] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    keywords: Mapping[str, Any] = field(default_factory=dict)  # a task's own value wins
    role: Path | None = None                            # the role's folder

    def inside(self, fields: Fields, skip: tuple[str, ...]) -> Context:
        """This context with the keywords of a block, include or role entry added."""
        keywords = {**self.keywords, **{key: value for key, value in fields.mapping.items()
                                        if key not in (*skip, *MERGED_KEYWORDS)}}
        if "environment" in keywords and "environment" not in skip:
            keywords["environment"] = merged_environment(self.keywords.get("environment"),
                                                         fields.raw("environment"))
        when = fields.raw("when")
        conditions = (*self.when, *(when if isinstance(when, list) else
                                    [] if when is None else [when]))
        return replace(self, when=conditions, keywords=keywords,
                       tags=self.tags | frozenset(fields.string_list("tags")),
                       vars={**self.vars, **fields.mapping_of("vars")})


@dataclass(frozen=True)
class TaskEntry:
    """One task as written (with the keywords it inherits written in), and its context."""

    raw: Any
    path: Path
    at: Location
    context: Context
    is_implicit: bool = False  # a step Ansible adds itself (a flush between sections)

    @property
    def name(self) -> str:
        name = self.raw.get("name") if isinstance(self.raw, dict) else None
        return f"{self.context.prefix}{name}{self.context.suffix}"


@dataclass
class Expansion:
    """The expanded tasks and handlers of one play."""

    play: int
    playbook: Path
    variables: Mapping[str, Any]            # play vars and -e, for a templated include name
    kind: str = "task"                      # the section being expanded: task or handler
    tasks: list[TaskEntry] = field(default_factory=list)
    handlers: list[TaskEntry] = field(default_factory=list)
    blocks: list[BlockSpec] = field(default_factory=list)
    sequence: list[tuple[tuple[str, ...], str]] = field(default_factory=list)
    roles_run: set[tuple[Path, str]] = field(default_factory=set)
    role_runs: dict[Path, int] = field(default_factory=dict)  # how often each role ran
    files: tuple[Path, ...] = ()            # the include chain, to refuse a cycle

    def step_id(self, entry: TaskEntry) -> str:
        return step_id(self.play, "handler" if self.kind == "handler" else "task", entry.name)


# expand a tasks file into `into` after the tasks `previous`; the ids of its last tasks
ExpandFile = Callable[["Expansion", Path, Location, Context, list[TaskEntry], tuple[str, ...]],
                      tuple[str, ...]]


def short_name(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def refuse_task_only(fields: Fields, what: str, allowed: tuple[str, ...] = ()) -> None:
    for key in TASK_ONLY:
        if fields.has(key) and key not in allowed:
            raise InputError(f"{key!r} cannot be set on {what}: play expands it into its "
                             f"tasks when the playbook loads, so put {key!r} on each task "
                             f"({COMING_FROM_ANSIBLE})", fields.at(key))


def finish_step(step: Step, entry: TaskEntry) -> Step:
    """A parsed task with what its context gives it: the role's prefix on its name (as
    Ansible displays `role : task`), the conditions of its blocks and roles before its
    own, their tags and vars, the role's defaults and folder."""
    body = step.body
    if not isinstance(body, TaskSpec):
        return step
    context = entry.context
    conditions = [*context.when, *([] if body.when is None else [body.when])]
    when = None if not conditions else conditions[0] if len(conditions) == 1 else \
        " and ".join(f"({condition})" for condition in conditions)
    body = replace(body, when=when, vars={**context.vars, **body.vars},
                   defaults=dict(context.defaults), is_implicit=entry.is_implicit)
    return replace(step, name=f"{context.prefix}{step.name}{context.suffix}", body=body,
                   tags=step.tags | context.tags)


def local_file_bases(entry: TaskEntry, playbook: Path) -> tuple[Path, ...]:
    """The files beside which a task's template or copy `src` is looked up, first first:
    a role's tasks folder (so its templates/ and files/), the task's own file, the
    playbook."""
    bases = [entry.path, playbook]
    if entry.context.role is not None:
        bases.insert(0, entry.context.role / "tasks" / "main.yml")
    return tuple(dict.fromkeys(bases))
