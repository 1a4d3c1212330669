"""Consumers follow the registry within the run, as consul-template follows Consul: when
a step takes an instance of a service out of the registry (before its drain) or puts one
in (once healthy), every task that reads that service with `services()` (the plan's
`readers`, found before the run) is run again on its hosts, and when that changed its
file, the containers it notifies that have a `reload_signal` and run there are sent it,
before the step goes on (so a load balancer stops sending to an instance before the drain
wait starts). Wired by engine/wiring.py between the task runner and the container steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from engine.containers.docker import Docker
from engine.containers.facts import ContainerError, EngineDown
from engine.errors import UnreachableError
from engine.per_key import KeyedLocks
from engine.playbook import ContainerSpec, Step, TaskSpec
from engine.templating import ANY_SERVICE, render, template_errors

if TYPE_CHECKING:
    from engine.connection import Connection
    from engine.plan import Plan
    from engine.tasks import StepRunner


class Consumers:
    def __init__(self, plan: Plan, runner: StepRunner, connect: Callable[[str], Connection],
                 check: bool) -> None:
        self.plan = plan
        self.runner = runner
        self.connect = connect
        self.check = check
        self._hosts: dict[str, list[str]] = {}
        for host, step_id in plan.nodes:
            self._hosts.setdefault(step_id, []).append(host)
        self._locks: KeyedLocks[tuple[str, str]] = KeyedLocks()

    def follow(self, service: str) -> list[str]:
        """Called right after `service`'s records changed in the registry; returns what it
        did, for the message of the step that changed them. Under --check nothing changed."""
        if self.check:
            return []
        notes: list[str] = []
        for step_id in (*self.plan.readers.get(service, ()),
                        *self.plan.readers.get(ANY_SERVICE, ())):
            step = self.plan.steps.get(step_id)
            if step is None:
                continue
            for host in self._hosts.get(step_id, ()):
                notes += self._follow_on(host, step)
        return notes

    def _follow_on(self, host: str, step: Step) -> list[str]:
        # one render and reload at a time per consumer, in the order of changes
        with self._locks.of((host, step.id)):
            try:
                targets = self._reloadable(host, step)
                if not targets:
                    return []  # nothing runs there to reload: its own task renders it
                result = self.runner.refresh(host, step)
            except (UnreachableError, EngineDown, ContainerError) as error:
                return [f"{step.label} on {host} not rendered again: {error}"]
            if result.status == "failed":
                return [f"{step.label} on {host} not rendered again: {result.msg}"]
            if result.status != "changed":
                return []
            notes = [f"{step.label} on {host} rendered again"]
            docker = Docker(self.connect(host))
            for name, signal in targets.items():
                sent = docker.signal(name, signal)
                notes.append(f"sent {signal} to container {name} on {host}" if sent.is_ok else
                             f"could not send {signal} to container {name} on {host}: "
                             f"{sent.stderr_tail()}")
            return notes

    def _reloadable(self, host: str, step: Step) -> Mapping[str, str]:
        """The containers this task notifies that have a reload_signal and run on the host
        now: name -> signal."""
        assert isinstance(step.body, TaskSpec)
        play = self.plan.playbook.plays[step.play]
        scope = self.runner.scope(host, play)
        targets: dict[str, str] = {}
        for container in play.steps_of("container"):
            body = container.body
            if container.name not in step.body.notify or not isinstance(body, ContainerSpec) \
                    or body.reload_signal is None or (host, container.id) not in self.plan.graph:
                continue
            try:
                name = str(render(container.name, scope))
            except template_errors():
                continue
            targets[name] = body.reload_signal
        if not targets:
            return targets
        # asked now, not from the run's facts round: this host's own container steps may
        # not have read it yet, and must not get facts from before its tasks ran
        running = Docker(self.connect(host)).command(
            "ps", "--filter", "status=running", "--format", "{{.Names}}")
        names = set(running.stdout.split()) if running.is_ok else set()
        return {name: signal for name, signal in targets.items() if name in names}
