"""A whole run: `prepare` validates everything (exit 4 before anything runs), `execute`
schedules the plan over the hosts' connections (wired by engine/wiring.py), reports events,
holds the deploy lock, and turns the results into the spec's exit status.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, TextIO

from engine.batches import place_plays, render_patterns
from engine.checks import check_variables
from engine.connection_targets import connection_settings, first_hosts
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
from engine.inventory.overrides import with_connection_defaults
from engine.output.events import Reporter, Sink
from engine.output.jsonlines import JsonWriter
from engine.output.plain import PlainWriter
from engine.output.redaction import Redactor
from engine.output.verbose import CommandTrace
from engine.plan import plan_run
from engine.playbook import load_playbook
from engine.playbook.model import TaskSpec
from engine.playbook.resolve import resolve_play_templates
from engine.registry import LockOwner
from engine.registry.config import PlayRegistry, resolve_registries
from engine.registry.model import LockBusy, LockWaitInterrupted, RegistryError
from engine.registry.pool import RegistryPool
from engine.registry.run_records import service_records
from engine.results import Event, Recap, StepResult
from engine.retry_file import write_retry_file
from engine.rollout import Rollout, exit_status
from engine.run_options import Prepared, RunOptions
from engine.run_secrets import run_secrets
from engine.templating import is_template, render, template_errors
from engine.variables import parse_extra_vars
from engine.wiring import wire

if TYPE_CHECKING:
    from engine.connection.pool import EarlyConnections
    from engine.inventory import Inventory


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
        early.start(first_hosts(inventory, placements, options.forks))
    plan = plan_run(playbook, inventory, placements, options.tags, options.skip_tags,
                    options.start_at_task)
    check_variables(plan, inventory, extra_vars)
    host_vars = {name: host.vars for name, host in inventory.hosts.items()}
    plays = [PlayRegistry(play.registry or None, play.source, placement.hosts)
             for play, placement in zip(playbook.plays, plan.placements, strict=True)]
    registries, default = resolve_registries(plays, host_vars, Location(playbook.path))
    return Prepared(plan, inventory, extra_vars, dict(enumerate(registries)), default,
                    connection_settings(plan, inventory, [*registries, default]))


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


def execute(prepared: Prepared, options: RunOptions, stdout: TextIO = sys.stdout,
            early: EarlyConnections | None = None) -> int:
    plan = prepared.plan
    # the reporter needs the runner's scopes for its secrets; no command runs before it is
    # made, so the trace can emit through it
    trace = CommandTrace(options.verbosity, lambda event: reporter.emit(event)) \
        if options.verbosity else None
    wiring = wire(prepared, options, early, trace)
    pool, registries, runner = wiring.pool, wiring.registries, wiring.runner
    reporter = Reporter(_sinks(options, stdout), Redactor(run_secrets(prepared, runner.scope)))
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


