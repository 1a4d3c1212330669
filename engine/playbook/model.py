"""The playbook as plain frozen data: plays, and their steps (tasks, handlers,
containers, services). Values that hold Jinja2 templates stay strings here; they
are rendered per host when a step runs.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from engine.errors import Location
from engine.nested import strings
from engine.templating import is_template

StepKind = Literal["task", "handler", "container", "service"]
STEP_KINDS: tuple[StepKind, ...] = ("task", "handler", "container", "service")


@dataclass(frozen=True)
class TaskSpec:
    """An imperative task (or handler): one action with its arguments, plus keywords."""

    action: str
    args: Any                       # a mapping, or a free-form string for command/shell
    when: str | None = None
    loop: Any = None
    register: str | None = None
    notify: tuple[str, ...] = ()
    retries: Any = None
    until: str | None = None
    delay: Any = None
    timeout: Any = None
    ignore_errors: Any = False
    changed_when: Any = None
    failed_when: Any = None
    become: Any = None
    run_once: bool = False
    no_log: Any = False
    # what a role, a block or the task itself brings (engine/playbook/structure.py)
    vars: dict[str, Any] = field(default_factory=dict)      # role vars and params, block
    defaults: dict[str, Any] = field(default_factory=dict)  # and task vars; role defaults
    sources: tuple[str, ...] = ()   # files beside which its src is looked up; () = the play's
    delegate_to: str | None = None  # runs over that host's connection, with this host's vars
    loop_kind: str = "loop"         # with_items / with_list / with_dict: "items" ...
    loop_var: str = "item"
    index_var: str | None = None
    label: Any = None               # loop_control.label: what the output shows per item
    become_user: Any = None
    remote_user: Any = None
    environment: Any = None         # a mapping (values may be templates) or a template
    is_implicit: bool = False       # Ansible's flush between sections: hidden when it runs none


@dataclass(frozen=True)
class HealthCheck:
    cmd: Any                        # a shell string or an argument list
    interval: Any = None            # seconds
    timeout: Any = None
    retries: Any = None
    start_period: Any = None


@dataclass(frozen=True)
class PlacementSpec:
    """Where the replicas of a `replicas: N` container may go (SPEC-adjacent: issue 9)."""

    spread: bool = True                      # one per host before a second on any
    prefer: str | None = None                # "least-loaded"; None = inventory order
    constraints: dict[str, str] = field(default_factory=dict)  # host vars that must match
    max_per_host: int = 1


@dataclass(frozen=True)
class ContainerSpec:
    """The desired state of one container on each host of its play."""

    image: str
    pull: str = "missing"
    command: Any = None
    entrypoint: Any = None
    env: dict[str, Any] = field(default_factory=dict)
    env_file: tuple[str, ...] = ()
    ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    network: str | None = None
    restart: str | None = None
    labels: dict[str, Any] = field(default_factory=dict)
    healthcheck: HealthCheck | None = None
    user: str | None = None
    workdir: str | None = None
    cpus: Any = None
    memory: Any = None
    stop_timeout: Any = None
    reload_signal: str | None = None         # "SIGUSR2": a notified container is signalled
    depends_on: tuple[str, ...] = ()
    state: str = "started"
    keep_images: Any = None
    when: str | None = None
    # None: one on every host of the play; a template of play vars and -e until
    # engine/playbook/resolve.py renders it, before placement
    replicas: int | str | None = None
    placement: PlacementSpec | None = None

    def per_host_fields(self) -> dict[str, Any]:
        """The fields rendered for each host, the health check as a mapping; replicas and
        placement are decided once per run, not per host."""
        values = {spec_field.name: getattr(self, spec_field.name) for spec_field in fields(self)
                  if spec_field.name not in ("replicas", "placement")}
        if self.healthcheck is not None:
            values["healthcheck"] = asdict(self.healthcheck)
        return values

    @functools.cached_property
    def templated_fields(self) -> frozenset[str]:
        """Which of `per_host_fields` hold a template: only those differ between hosts
        (rendering all of them walked every value again for each host: ~0.1 ms a step)."""
        return frozenset(name for name, value in self.per_host_fields().items()
                         if any(is_template(text) for text in strings(value)))


@dataclass(frozen=True)
class ServiceSpec:
    """A service instance registered for a container once it is healthy."""

    container: str
    port: Any
    tags: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    drain: Any = 0.0
    when: str | None = None


@dataclass(frozen=True)
class Step:
    """One named step of a play; the planner makes one graph node per (host, step)."""

    play: int                       # index of its play in the playbook
    kind: StepKind
    name: str
    source: Location
    body: TaskSpec | ContainerSpec | ServiceSpec
    after: tuple[str, ...] = ()     # ids of steps in the same play that must finish first
    tags: frozenset[str] = frozenset()
    # a container that says no `after:` of its own waits for its play's tasks on its host
    follows_tasks: bool = False

    @functools.cached_property
    def id(self) -> str:
        # read for every node the plan builds: hundreds of thousands of times at scale
        return step_id(self.play, self.kind, self.name)

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"


def step_id(play: int, kind: StepKind, name: str) -> str:
    return f"{play}/{kind}/{name}"


@dataclass(frozen=True)
class BlockSpec:
    """A `block:` with `rescue:` or `always:`, as the step ids of its tasks (a block with
    neither is only its tasks). The planner turns it into edges: the rescue runs only when
    the body failed, the always tasks in either case, what follows only if the body or its
    rescue succeeded."""

    body: tuple[str, ...]
    rescue: tuple[str, ...] = ()
    always: tuple[str, ...] = ()
    body_exits: tuple[str, ...] = ()    # the tasks whose success means the body succeeded
    region_exits: tuple[str, ...] = ()  # the same for the body and its rescue


@dataclass(frozen=True)
class Play:
    index: int
    name: str
    hosts: str                      # a host pattern
    source: Location
    steps: tuple[Step, ...]         # tasks in order, then handlers, containers, services
    vars: dict[str, Any] = field(default_factory=dict)
    vars_files: tuple[str, ...] = ()  # resolved paths, in precedence order
    serial: tuple[Any, ...] = ()    # batch sizes: ints or "30%" strings; () = all at once
    max_fail_percentage: Any = None
    any_errors_fatal: bool = False
    after: tuple[int, ...] | None = None  # indexes of plays it waits for; None = the one above
    registry: dict[str, Any] = field(default_factory=dict)
    become: Any = None
    blocks: tuple[BlockSpec, ...] = ()
    # (tasks, step) pairs: the step also needs those tasks to succeed, besides the one listed
    # before it (what follows a block with `always:` needs the block to have succeeded)
    sequence: tuple[tuple[tuple[str, ...], str], ...] = ()
    gather_facts: bool = False
    become_user: Any = None
    remote_user: Any = None          # the login for hosts whose inventory names none
    environment: Any = None

    def steps_of(self, kind: StepKind) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if step.kind == kind)


@dataclass(frozen=True)
class Playbook:
    path: str
    plays: tuple[Play, ...]

    @property
    def steps(self) -> dict[str, Step]:
        return {step.id: step for play in self.plays for step in play.steps}
