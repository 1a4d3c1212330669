"""Container steps: reconcile one container on one host (zero-downtime order:
deregister -> drain -> stop old -> start new -> wait healthy; the service step then
registers), and roll back to the old container when the new one is unhealthy.
Service steps live in engine/containers/services.py.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from engine.containers.docker import Docker, run_line_problem
from engine.containers.facts import (
    ContainerError,
    EngineDown,
    HostFacts,
    facts_command,
    normalize_image,
    parse_facts,
)
from engine.containers.placement import Placement
from engine.containers.replicas import Replicas
from engine.containers.spec import (
    OLD_SUFFIX,
    DesiredContainer,
    desired_container,
    image_repository,
)
from engine.containers.swap import Command, SwapPlan, plan_swap
from engine.execute import Node
from engine.names import instance_id
from engine.playbook import ContainerSpec, Play, ServiceSpec, Step
from engine.registry import Instance, Registry, RegistryError
from engine.results import StepResult
from engine.templating import evaluate, render, template_errors

if TYPE_CHECKING:
    from engine.connection import CommandResult, Connection
    from engine.plan import Plan

RegistryFor = Callable[[Play], Registry]


@dataclasses.dataclass(frozen=True)
class Healthy:
    image_id: str


class ContainerSteps:
    """Runs the container and service nodes of one run."""

    def __init__(self, plan: Plan, connect: Callable[[str], Connection],
                 registry_for: RegistryFor, addresses: Mapping[str, str], check: bool,
                 is_notified: Callable[[str, str], bool],
                 scope_for: Callable[[str, Play], Mapping[str, Any]], diff: bool = False) -> None:
        self.plan = plan
        self.diff = diff  # --diff: a recreate lists what changed, one field a line
        self.scope_for = scope_for
        self.connect = connect
        self.registry_for = registry_for
        self.addresses = addresses
        self.check = check
        self.is_notified = is_notified
        self._facts: dict[str, HostFacts] = {}
        self._facts_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self.healthy: dict[tuple[str, str], Healthy] = {}
        self.replicas = Replicas(plan, self.facts, registry_for, scope_for)
        self._resource_hosts = self.replicas.hosts_needing_resources()
        self._replicated = _replicated_started(plan)
        # Called with a service's name right after this run changed its records, before
        # any drain wait; returns what it did (engine/consumers.py, wired by the run).
        self.follow: Callable[[str], list[str]] = lambda service: []
        self._notes: dict[tuple[str, str], list[str]] = {}  # (host, step id) -> follow notes

    # -- facts: one round trip per host, shared by every container step on it --

    def facts(self, host: str) -> HostFacts:
        with self._lock:
            lock = self._facts_locks.setdefault(host, threading.Lock())
        with lock:
            if host not in self._facts:
                images = self._images_of(host)
                result = self.connect(host).run(
                    facts_command(images, with_resources=host in self._resource_hosts))
                if not result.is_ok:
                    raise EngineDown(f"cannot read the containers on {host} "
                                     f"(is its Docker engine running?): "
                                     f"{result.stderr_tail()}")
                self._facts[host] = parse_facts(result.stdout, images)
            return self._facts[host]

    def _images_of(self, host: str) -> list[str]:
        """The images every container step of this host wants, rendered for the host, so
        that one inspect answers for all of them."""
        images = []
        for node_host, step_id in self.plan.nodes:
            step = self.plan.steps[step_id]
            if node_host != host or not isinstance(step.body, ContainerSpec):
                continue
            play = self.plan.playbook.plays[step.play]
            try:
                images.append(str(render(step.body.image, self.scope_for(host, play))))
            except template_errors():
                continue  # that step will report the error itself
        return images

    # -- container steps --

    def run_container(self, node: Node, scope: Mapping[str, Any]) -> StepResult:
        host, step_id = node
        step = self.plan.steps[step_id]
        assert isinstance(step.body, ContainerSpec)
        started = time.monotonic()
        try:
            if step.body.when is not None and not evaluate(step.body.when, scope):
                return StepResult(host, step_id, "skipped", msg="condition is false")
            unhealthy = self._unhealthy_replicated_dependency(step.body)
            if unhealthy is not None:
                return StepResult(host, step_id, "skipped", is_blocked=True,
                                  msg=f"no replica of container {render(unhealthy, scope)} is "
                                      "healthy")
            play = self.plan.playbook.plays[step.play]
            spec = _rendered_spec(step.body, scope)
            placement = self.placement_of(host, step, scope)
            if placement is not None and not placement.replicas_on(host):
                spec["state"] = "absent"
            desired = desired_container(str(render(step.name, scope)), spec,
                                        env_file_values(step.body.env_file), play.name)
            too_long = run_line_problem(desired)
            if too_long is not None:
                raise ContainerError(f"cannot run container {desired.name}: {too_long}")
            try:
                changed, message, diff = self._reconcile(host, play, step, desired, scope)
            except EngineDown as error:
                raise EngineDown(self._withdraw(host, play, step, scope, str(error))) from None
            message = "; ".join(filter(None, [message, *self.notes_of(host, step_id)]))
            if placement is not None:
                message = "; ".join(filter(None, [message, placement.by_host[host].why]))
                if placement.missing and host == self._reporter_of(step, placement):
                    raise ContainerError(placement.shortfall)
        except template_errors(ContainerError, RegistryError, ValueError) as error:
            return StepResult(host, step_id, "failed",
                              msg="; ".join([str(error), *self.notes_of(host, step_id)]),
                              duration=time.monotonic() - started)
        return StepResult(host, step_id, "changed" if changed else "ok", msg=message,
                          diff=diff, duration=time.monotonic() - started)

    def notes_of(self, host: str, step_id: str) -> list[str]:
        """What following the registry did during this step (and forget it)."""
        with self._lock:
            return self._notes.pop((host, step_id), [])

    def follow_services(self, host: str, step_id: str, services: set[str]) -> None:
        """Let the consumers of these services follow their records now (before a drain),
        keeping what they did for the step's message."""
        notes = [note for service in sorted(services) for note in self.follow(service)]
        if notes:
            with self._lock:
                self._notes.setdefault((host, step_id), []).extend(notes)

    def _unhealthy_replicated_dependency(self, body: ContainerSpec) -> str | None:
        """A `depends_on` container with replicas none of which is healthy, or None. The
        plan only orders a dependent after such a container's steps (a replica may move
        off a failing host), so this is where the dependent waits for one to be healthy
        (SPEC); a dependency without replicas is a hard edge the scheduler enforces."""
        if self.check:
            return None  # --check starts nothing: no replica is proven healthy
        for dependency in body.depends_on:
            step_ids = self._replicated.get(dependency)
            if not step_ids:
                continue
            with self._lock:
                if not any(step_id in step_ids for _, step_id in self.healthy):
                    return dependency
        return None

    def _withdraw(self, host: str, play: Play, step: Step, scope: Mapping[str, Any],
                  reason: str) -> str:
        """Its engine is down, so nothing vouches for the container any more: its records
        leave the registry (a record claims a healthy container). Returns the message."""
        if self.check:
            return reason
        removed = self._deregister(self.registry_for(play), host, play, step, scope,
                                   drain=False)
        if not removed:
            return reason
        return f"{reason}; removed {', '.join(i.instance for i in removed)} from the registry"

    def placement_of(self, host: str, step: Step, scope: Mapping[str, Any]) -> Placement | None:
        """The replicas' placement of a `replicas: N` container, None for one per host."""
        if not isinstance(step.body, ContainerSpec) or step.body.replicas is None:
            return None
        return self.replicas.placement(step, scope)

    def _reporter_of(self, step: Step, placement: Placement) -> str:
        """The one host whose step fails for replicas nobody had room for (one failure,
        not one per host): the first reachable candidate."""
        return next((d.host for d in placement.decisions if not d.why.startswith("unreachable")),
                    placement.decisions[0].host)

    def _reconcile(self, host: str, play: Play, step: Step, desired: DesiredContainer,
                   scope: Mapping[str, Any]) -> tuple[bool, str, str | None]:
        """Whether it changed, the step's message and, under --diff, what changed."""
        docker = Docker(self.connect(host))
        facts = self.facts(host)
        current = facts.containers.get(desired.name)
        aside = facts.containers.get(desired.name + OLD_SUFFIX)
        image_id = self._image(docker, host, desired, facts)
        plan = plan_swap(desired, current, aside, image_id, self.is_notified(host, step.name))
        diff = ("".join(f"{plan.work} {desired.name}: {reason}\n" for reason in plan.reasons)
                if self.diff and plan.is_change and plan.reasons else None)
        if self.check:
            return plan.is_change, f"would {plan.describe()}" if plan.is_change else "", diff
        if plan.commands:
            self._carry_out(docker, host, play, step, desired, plan, scope)
        if desired.state == "started":
            if plan.commands:
                self._note_healthy(host, step, image_id or "")
            elif current is not None and current.health in (None, "healthy"):
                self._note_healthy(host, step, current.image_id)
        return plan.is_change, plan.describe() if plan.is_change else "", diff

    def _image(self, docker: Docker, host: str, desired: DesiredContainer,
               facts: HostFacts) -> str | None:
        if desired.state == "absent":
            return None
        reference = normalize_image(desired.image)
        known = facts.images.get(reference)
        must_pull = desired.pull == "always" or (desired.pull == "missing" and known is None)
        if not must_pull or self.check:
            if known is None and desired.pull == "never":
                raise ContainerError(f"image {desired.image} is not on {host} and pull is never")
            return known
        result = docker.pull(desired.image)
        if not result.is_ok:
            raise ContainerError(f"cannot pull {desired.image} on {host}: "
                                 f"{result.stderr_tail()}")
        return result.stdout.strip().splitlines()[-1]

    def _carry_out(self, docker: Docker, host: str, play: Play, step: Step,
                   desired: DesiredContainer, plan: SwapPlan, scope: Mapping[str, Any]) -> None:
        """Run the plan's commands in order; a failure to create the new container or of
        its health wait rolls back when the plan keeps an old container aside."""
        registry = self.registry_for(play)
        removed: list[Instance] = []
        batch: list[Command] = []  # plain docker commands: sent together, one round trip
        for command in (*plan.commands, None):
            if command is not None and command.op in _PLAIN:
                batch.append(command)
                continue
            if batch:
                _check(docker.apply(batch, desired), ", ".join(map(str, batch)))
                batch = []
            if command is None:
                break
            if command.op == "deregister":
                removed += self._deregister(registry, host, play, step, scope,
                                            drain=command.drain)
            elif command.op == "prune":
                docker.prune_images(image_repository(desired.image), desired.keep_images)
            elif command.op == "create":
                created = docker.create(desired)
                if not created.is_ok:
                    self._fail_new(docker, desired, plan, registry, removed,
                                   f"cannot create it: {created.stderr_tail()}", (host, step.id))
            elif command.op == "wait":
                health = docker.wait_healthy(command.name, _patience(desired))
                if not health.is_healthy:
                    self._fail_new(docker, desired, plan, registry, removed, health.state + (
                        f"; last health check: {health.output}" if health.output else ""),
                        (host, step.id))

    def _fail_new(self, docker: Docker, desired: DesiredContainer, plan: SwapPlan,
                  registry: Registry, removed: list[Instance], why: str,
                  node: tuple[str, str]) -> None:
        """The new container cannot be created or is not healthy: put the old one back
        (when one is aside), register again what this run took out for it, and fail."""
        if not plan.rollback:
            raise ContainerError(f"{desired.name} did not become healthy ({why})")
        *moves, wait = plan.rollback
        _check(docker.apply(moves, desired), "roll back")
        old = docker.wait_healthy(wait.name, _patience(desired))
        if old.is_healthy:
            for instance in removed:
                registry.register(instance)
            self.follow_services(*node, {instance.service for instance in removed})
        raise ContainerError(f"new {desired.name} did not become healthy ({why}); rolled back "
                             f"to the previous container"
                             + ("" if old.is_healthy else f", which is not healthy either "
                                f"({old.state})"))

    def _note_healthy(self, host: str, step: Step, image_id: str) -> None:
        with self._lock:
            self.healthy[(host, step.id)] = Healthy(image_id)

    # -- registry --

    def _deregister(self, registry: Registry, host: str, play: Play, container: Step,
                    scope: Mapping[str, Any], drain: bool = True) -> list[Instance]:
        """Take the container's service instances out of the registry and wait the longest
        drain, so traffic leaves before the container stops. Returns what was removed."""
        services = [s for s in play.steps_of("service")
                    if isinstance(s.body, ServiceSpec) and s.body.container == container.name]
        if not services:
            return []
        names = [str(render(s.name, scope)) for s in services]
        removed = [instance for name in names for instance in registry.instances(name)
                   if instance.instance == instance_id(name, host)]
        for instance in removed:
            registry.deregister(instance.service, instance.instance)
        # the consumers stop sending there first: the drain is for requests in flight
        self.follow_services(host, container.id, {instance.service for instance in removed})
        if not drain:
            return removed
        drain_time = max(float(render(s.body.drain, scope) or 0) for s in services
                    if isinstance(s.body, ServiceSpec))
        if removed and drain_time > 0:
            time.sleep(drain_time)
        return removed


def _replicated_started(plan: Plan) -> dict[str, set[str]]:
    """container name -> the ids of the plan's steps that start replicas of it."""
    planned = {step_id for _, step_id in plan.nodes}
    replicated: dict[str, set[str]] = {}
    for step_id in planned:
        step = plan.steps[step_id]
        if isinstance(step.body, ContainerSpec) and step.body.replicas is not None \
                and step.body.state == "started":
            replicated.setdefault(step.name, set()).add(step_id)
    return replicated


_PLAIN = frozenset({"remove", "stop", "rename", "start", "restart", "signal"})


def _check(result: CommandResult, what: str) -> None:
    if not result.is_ok:
        raise ContainerError(f"cannot {what}: {result.stderr_tail()}")


def _patience(desired: DesiredContainer) -> float:
    return desired.health.patience if desired.health else 30.0


def _rendered_spec(spec: ContainerSpec, scope: Mapping[str, Any]) -> dict[str, Any]:
    rendered: dict[str, Any] = render(spec.per_host_fields(), scope)
    return rendered


def env_file_values(paths: tuple[str, ...]) -> dict[str, str]:
    """KEY=VALUE lines of local env files (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    for path in paths:
        try:
            text = open(path, encoding="utf-8").read()  # noqa: SIM115 - read at once
        except OSError as error:
            raise ContainerError(f"cannot read env_file {path}: {error}") from None
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                values[key.strip()] = value
    return values
