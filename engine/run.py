"""A whole run: validate everything (exit 4 before anything runs), then schedule the
plan over the hosts' connections, report events, and turn the results into the
spec's exit status.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from engine.batches import place_plays, render_patterns
from engine.checks import check_variables
from engine.connection import settings_for
from engine.connection.pool import ConnectionPool
from engine.deploy_lock import LockWatch, hold_deploy_lock
from engine.errors import (
    EXIT_INTERRUPTED,
    EXIT_LOCK_BUSY,
    EXIT_STEP_FAILED,
    EXIT_UNREACHABLE,
    InputError,
    Location,
)
from engine.execute import Limits, Node, Scheduler
from engine.inventory import implicit_localhost
from engine.inventory.overrides import ConnectionDefaults, with_connection_defaults
from engine.output.events import Reporter, Sink
from engine.output.jsonlines import JsonWriter
from engine.output.plain import PlainWriter
from engine.output.redaction import Redactor, secret_values
from engine.output.verbose import CommandTrace
from engine.plan import plan_run
from engine.playbook import load_playbook
from engine.playbook.model import ContainerSpec, TaskSpec
from engine.playbook.resolve import resolve_play_templates
from engine.registry import LockOwner, open_registry, serving
from engine.registry.cache import OwnedRegistry
from engine.registry.config import (
    PlayRegistry,
    owner_of,
    read_password,
    resolve_registries,
)
from engine.registry.model import LockBusy, LockWaitInterrupted, RegistryError
from engine.registry.pool import RegistryPool
from engine.registry.run_records import service_records
from engine.results import Event, Recap, StepResult
from engine.retry_file import write_retry_file
from engine.rollout import Rollout, exit_status
from engine.templating import is_template, render, template_errors
from engine.variables import parse_extra_vars

if TYPE_CHECKING:
    from engine.batches import PlayPlacement
    from engine.connection import ConnectionSettings
    from engine.connection.pool import ConnectionPool, EarlyConnections
    from engine.containers.step import ContainerSteps
    from engine.containers.sweep import Grace
    from engine.inventory import Inventory
    from engine.plan import Plan
    from engine.playbook import Play
    from engine.registry import Registry, RegistryConfig
    from engine.tasks import StepRunner


@dataclass(frozen=True)
class RunOptions:
    playbook: str
    inventories: tuple[str, ...] = ()
    limit: str | None = None
    extra_vars: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    skip_tags: tuple[str, ...] = ()
    check: bool = False
    diff: bool = False
    forks: int = 50
    per_host: int = 8
    json: bool = False
    log: str | None = None
    report: str | None = None   # the HTML run report's path (output/report.py)
    lock_timeout: float = 60.0
    option_names: tuple[str, ...] = ()  # recorded in the deploy lock, without their values
    verbosity: int = 0                  # -v: commands, -vv: and their output, -vvv: and SSH
    # -u, -b, -K, -k: under every host's own inventory variables
    connection_defaults: ConnectionDefaults = field(default_factory=ConnectionDefaults)
    start_at_task: str | None = None
    retry_file: str | None = None       # a failed run writes its failed hosts here


@dataclass(frozen=True)
class Prepared:
    """Everything a run needs, all validated."""

    plan: Plan
    inventory: Inventory
    extra_vars: Mapping[str, Any]
    registries: Mapping[int, RegistryConfig]   # by play index
    default_registry: RegistryConfig           # of all the run's hosts: holds the deploy lock
    # How to reach every host of the plan and every file registry host.
    connection_settings: Mapping[str, ConnectionSettings]


def prepare(options: RunOptions, load_inventory: Callable[[tuple[str, ...]], Inventory],
            early: EarlyConnections | None = None) -> Prepared:
    """Load, plan and check; any user mistake raises `InputError` here, before any
    command runs on a host. With `early`, the first hosts' connections start opening as
    soon as the hosts are known, while the plan is built and checked."""
    try:
        extra_vars = parse_extra_vars(options.extra_vars)  # a templated include may need them
    except InputError:
        # the playbook's and the inventory's own mistakes are reported first, as before
        load_playbook(options.playbook)
        load_inventory(options.inventories)
        raise
    playbook = load_playbook(options.playbook, extra_vars)
    inventory = with_connection_defaults(load_inventory(options.inventories),
                                         options.connection_defaults)
    playbook = resolve_play_templates(render_patterns(playbook, extra_vars), extra_vars)
    placements = place_plays(playbook, inventory, options.limit)
    if early is not None:
        early.start(_first_hosts(inventory, placements, options.forks))
    plan = plan_run(playbook, inventory, placements, options.tags, options.skip_tags,
                    options.start_at_task)
    check_variables(plan, inventory, extra_vars)
    host_vars = {name: host.vars for name, host in inventory.hosts.items()}
    plays = [PlayRegistry(play.registry or None, play.source, placement.hosts)
             for play, placement in zip(playbook.plays, plan.placements, strict=True)]
    registries, default = resolve_registries(plays, host_vars, Location(playbook.path))
    return Prepared(plan, inventory, extra_vars, dict(enumerate(registries)), default,
                    _connection_settings(plan, inventory, [*registries, default]))


def _connection_settings(plan: Plan, inventory: Inventory,
                         registries: Sequence[RegistryConfig]) -> dict[str, ConnectionSettings]:
    """How to reach every host of the plan and every file registry host; a bad connection
    var raises `InputError` (exit 4 before anything runs, `play graph` included)."""
    hosts = {host for host, _ in plan.nodes}
    hosts |= {config.host for config in registries if config.host is not None}
    delegated = {step.body.delegate_to for step in plan.steps.values()
                 if isinstance(step.body, TaskSpec) and step.body.delegate_to is not None}
    if any(is_template(target) for target in delegated):
        hosts |= set(inventory.hosts)  # known only once rendered: every host may be one
    for step in plan.steps.values():
        target = step.body.delegate_to if isinstance(step.body, TaskSpec) else None
        if target is not None and not is_template(target) and target != "localhost" and \
                target not in inventory.hosts:
            raise InputError(f"task {step.name!r} is delegated to {target!r}, which is not a "
                             "host of the inventory; name an inventory host, or localhost "
                             "for the control node", step.source)
    hosts |= {target for target in delegated if target in inventory.hosts}
    logins = _remote_users(plan, inventory)
    settings = {host: settings_for(dataclasses.replace(inventory.hosts[host], user=logins[host])
                                   if host in logins else inventory.hosts[host])
                for host in sorted(hosts)}
    if "localhost" not in inventory.hosts and delegated:
        # Ansible's implicit localhost: the control node, reached without SSH
        settings["localhost"] = settings_for(implicit_localhost())
    return settings


def _remote_users(plan: Plan, inventory: Inventory) -> dict[str, str]:
    """The login `remote_user` (a play's or a task's) asks for on each host that the
    inventory names no user for (Ansible's precedence: `ansible_user` wins over the
    keyword). A host keeps one SSH connection for the run, so one login per host."""
    wanted: dict[str, dict[str, Location]] = {}
    for host, step_id in plan.nodes:
        step = plan.steps[step_id]
        play = plan.playbook.plays[step.play]
        user = step.body.remote_user if isinstance(step.body, TaskSpec) and \
            step.body.remote_user is not None else play.remote_user
        if user is not None and inventory.hosts[host].user is None:
            wanted.setdefault(host, {}).setdefault(str(user), step.source)
    for host, users in wanted.items():
        if len(users) > 1:
            (first, _), (second, at) = list(users.items())[:2]
            raise InputError(f"host {host!r} would log in as {first!r} and as {second!r} "
                             "(remote_user); play keeps one SSH connection per host: log in as "
                             "one user and switch with `become: true` and `become_user:`", at)
    return {host: next(iter(users)) for host, users in wanted.items()}


def _first_hosts(inventory: Inventory, placements: Sequence[PlayPlacement],
                 forks: int) -> list[ConnectionSettings]:
    """How to reach the hosts the scheduler starts on: the first batch of the first play
    with hosts, in name order as the scheduler takes them, at most `forks`. Only SSH
    hosts with known host keys: under accept-new a connection writes known_hosts, which
    must wait until the input is checked. Wrong connection vars are left to the usual
    exit 4."""
    batch = next((placement.batches[0] for placement in placements if placement.batches), ())
    chosen = []
    for name in sorted(batch)[:forks]:
        host = inventory.hosts[name]
        if host.connection != "ssh":
            continue
        try:
            settings = settings_for(host)
        except InputError:
            continue
        if settings.host_key_policy == "strict":
            chosen.append(settings)
    return chosen


def _sinks(options: RunOptions, stdout: TextIO) -> list[Sink]:
    sinks: list[Sink] = []
    if options.json:
        sinks.append(JsonWriter(stdout))
    elif stdout.isatty():
        from engine.output.live import LiveConsole

        sinks.append(LiveConsole())
    else:
        sinks.append(PlainWriter(stdout))
    if options.log:
        # 0600 when created: a log holds what hosts answered (an existing file keeps its
        # mode). The writer owns the file and closes it when the run ends.
        descriptor = os.open(options.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        log = os.fdopen(descriptor, "a", encoding="utf-8")
        sinks.append(PlainWriter(log, owns_stream=True))
    if options.report:
        from engine.output.report_sink import ReportWriter

        sinks.append(ReportWriter(options.report))
    return sinks


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT / SIGTERM stop scheduling; steps in flight finish (never cut mid-way)."""
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {signum: signal.signal(signum, handler)
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@dataclass(frozen=True)
class _Wiring:
    """The run's live parts: connections, registries, and the step runners over them."""

    pool: ConnectionPool
    registries: RegistryPool
    runner: StepRunner
    containers: ContainerSteps | None   # None when the plan has no container or service

    def close(self) -> None:
        self.registries.close()
        self.pool.close()


def _wire(prepared: Prepared, options: RunOptions, early: EarlyConnections | None = None,
          trace: CommandTrace | None = None) -> _Wiring:
    from engine.tasks import StepOptions, StepRunner  # not for `play graph` (engine/lazy.py)

    plan = prepared.plan
    pool = ConnectionPool(
        prepared.connection_settings, early, trace=trace.command if trace is not None else None,
        on_open=trace.connected if trace is not None and trace.verbosity >= 3 else None)
    registries = RegistryPool(pool.get, open_registry)

    def registry_for(play: Play) -> Registry:
        """What the play's steps may change: its owner's records only."""
        config = prepared.registries[play.index]
        return OwnedRegistry(registries.get(config),
                             owner_of(config, prepared.inventory.sources))

    def lookups(play: Play) -> dict[str, Any]:
        def services(name: str) -> list[dict[str, Any]]:
            # every owner's instances: a shared registry is for finding each other's
            return serving(registries.get(prepared.registries[play.index]).instances(name))
        return {"services": services}

    runner = StepRunner(plan, prepared.inventory, prepared.extra_vars, pool,
                        StepOptions(check=options.check, diff=options.diff), lookups)
    containers = None
    if any(step.kind in ("container", "service") for step in plan.steps.values()):
        # not imported by a tasks-only run
        from engine.containers.context import ContainerContext
        from engine.containers.services import ServiceSteps
        from engine.containers.step import ContainerSteps

        context = ContainerContext(pool.get, registry_for, runner.scope,
                                   runner.state.is_notified, check=options.check,
                                   diff=options.diff)
        if plan.readers:
            from engine.consumers import Consumers

            context = dataclasses.replace(
                context, follow=Consumers(plan, runner, pool.get, options.check).follow)
        containers = ContainerSteps(plan, context)
        services = ServiceSteps(containers,
                                {name: host.address for name, host in
                                 prepared.inventory.hosts.items()},
                                lambda play: _grace(prepared.registries[play.index]))
        runner.other_kinds = {"container": containers.run_container,
                              "service": services.run_service}
    return _Wiring(pool, registries, runner, containers)


def explain_placements(prepared: Prepared, options: RunOptions) -> list[str]:
    """Where the replicas of every `replicas: N` container would go now, and why: reads
    the candidate hosts' facts over SSH, changes nothing."""
    wiring = _wire(prepared, dataclasses.replace(options, check=True))
    lines: list[str] = []
    try:
        for step in prepared.plan.steps.values():
            if not isinstance(step.body, ContainerSpec) or step.body.replicas is None:
                continue
            assert wiring.containers is not None  # the plan has this container step
            hosts = wiring.containers.replicas.candidates(step)
            if not hosts:
                continue
            play = prepared.plan.playbook.plays[step.play]
            placement = wiring.containers.replicas.placement(
                step, wiring.runner.scope(hosts[0], play))
            lines.append(f"container {step.name} [{play.name}]: {step.body.replicas} "
                         f"replicas over {', '.join(hosts)}")
            lines.extend(f"  {line}" for line in placement.explain())
    finally:
        wiring.close()
    return lines


def execute(prepared: Prepared, options: RunOptions, stdout: TextIO = sys.stdout,
            early: EarlyConnections | None = None) -> int:
    plan = prepared.plan
    # the reporter needs the runner's scopes for its secrets; no command runs before it is
    # made, so the trace can emit through it
    trace = CommandTrace(options.verbosity, lambda event: reporter.emit(event)) \
        if options.verbosity else None
    wiring = _wire(prepared, options, early, trace)
    pool, registries, runner = wiring.pool, wiring.registries, wiring.runner
    reporter = Reporter(_sinks(options, stdout), Redactor(_secrets(prepared, runner)))
    run_node: Callable[[Node], StepResult] = runner
    if trace is not None:
        def run_node(node: Node) -> StepResult:
            trace.step_started(runner.is_no_log(node[1]))
            return runner(node)
    recap = Recap()
    rollout = Rollout(plan)
    stop = threading.Event()
    started = time.monotonic()

    def label(node: Node) -> tuple[str, str]:
        """The play and step as the user knows them; a templated step name is shown
        rendered for its host (`container web-eu`, not `container {{ prefix }}-web`)."""
        step = plan.steps[node[1]]
        play = plan.playbook.plays[step.play]
        if not is_template(step.name):
            return play.name, step.label
        try:
            task = step.body if isinstance(step.body, TaskSpec) else None
            scope = runner.scope(node[0], play, task)
            return play.name, f"{step.kind} {render(step.name, scope)}"
        except template_errors():
            return play.name, step.label

    def on_start(node: Node) -> None:
        play, step = label(node)
        reporter.emit(Event("step_start", host=node[0], play=play, step=step))

    def on_end(result: StepResult) -> None:
        recap.add(result)
        rollout.record(result)
        play, step = label((result.host, result.step))
        reporter.step_result(result, play, step)

    def warn(message: str) -> None:
        reporter.emit(Event("warning", data={"msg": message}))

    registries.warn = warn

    hosts = sorted({host for host, _ in plan.nodes})
    reporter.emit(Event("run_start", data={"playbook": plan.playbook.path, "hosts": hosts,
                                           "check": options.check}))
    lock = LockWatch()
    scheduler = Scheduler(plan.graph, run_node, Limits(options.forks, options.per_host),
                          on_start=on_start, on_end=on_end, veto=rollout.veto,
                          describe=lambda node: plan.steps[node[1]].label, stop=stop,
                          stop_reason=lambda: ("the deploy lock was lost" if lock.lost
                                               else "the run was interrupted"))
    status: int | None = None
    try:
        with _stop_on_signals(stop), _deploy_lock(prepared, options, registries, hosts,
                                                  warn, stop, lock):
            scheduler.run()
    except LockWaitInterrupted as error:
        warn(str(error))
        status = EXIT_INTERRUPTED
    except LockBusy as error:
        warn(str(error))
        status = EXIT_LOCK_BUSY
    except RegistryError as error:
        warn(f"registry: {error}")
        status = EXIT_UNREACHABLE
    finally:
        # not after a busy lock (nothing ran), a registry error or a lost lock (the
        # registry may be what failed: reading it would wait for it again)
        if (options.json or options.report) and status is None and not lock.lost:
            instances = service_records(prepared.plan.playbook, prepared.registries,
                                        registries, warn)
            if instances is not None:
                reporter.emit(Event("registry", data={"instances": instances}))
        wiring.close()
        wall_time = time.monotonic() - started
        reporter.emit(Event("recap", data={"recap": recap, "wall_time": round(wall_time, 3),
                                           "commands": pool.commands_run()}))
        reporter.close()
    if options.retry_file is not None and status is None:
        write_retry_file(options.retry_file, recap)
    if status is not None:
        return status
    if lock.lost:
        return EXIT_STEP_FAILED if recap.total("failed") else EXIT_UNREACHABLE
    return exit_status(recap, interrupted=stop.is_set(), check=options.check)


def _deploy_lock(prepared: Prepared, options: RunOptions, registries: RegistryPool,
                 hosts: list[str], warn: Callable[[str], None], stop: threading.Event,
                 watch: LockWatch) -> contextlib.AbstractContextManager[None]:
    """A run that can change things holds the deploy lock of its hosts throughout;
    --check changes nothing and takes none."""
    if options.check or not hosts:
        return contextlib.nullcontext()
    return hold_deploy_lock(registries.get(prepared.default_registry), hosts,
                            LockOwner.current("play", options.playbook, options.option_names),
                            options.lock_timeout, warn, stop, watch)


def _grace(config: RegistryConfig) -> Grace:
    from engine.containers.sweep import Grace

    return Grace(config.grace_converges, config.grace_seconds)


def _secrets(prepared: Prepared, runner: StepRunner) -> set[str]:
    """Rendered values, on every host, of every variable named in a `secret_vars` list and
    of the become and connection passwords (engine/output/redaction.py), and the etcd
    registry passwords."""
    secrets: set[str] = set()
    for config in {*prepared.registries.values(), prepared.default_registry}:
        if config.user:  # etcd's password, read from its file or variable: never shown
            with contextlib.suppress(RegistryError):
                secrets.add(read_password(config))
    for placement in prepared.plan.placements:
        play = prepared.plan.playbook.plays[placement.play]
        for host in placement.hosts:
            secrets |= secret_values(runner.scope(host, play))
    return secrets
