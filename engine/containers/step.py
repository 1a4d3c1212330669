"""Container steps: reconcile one container on one host (zero-downtime order:
deregister -> drain -> stop old -> start new -> wait healthy; the service step then
registers), and roll back to the old container when the new one is unhealthy.
Service steps live in engine/containers/services.py.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from engine.containers.docker import Docker, run_line_problem
from engine.containers.facts import (
    ContainerError,
    CurrentContainer,
    EngineDown,
    HostFacts,
    facts_command,
    normalize_image,
    parse_container,
    parse_facts,
)
from engine.containers.placement import Placement
from engine.containers.reconcile import ContainerChange, decide
from engine.containers.replicas import Replicas
from engine.containers.spec import (
    OLD_SUFFIX,
    DesiredContainer,
    desired_container,
    image_repository,
    run_arguments,
)
from engine.execute import Node
from engine.playbook import ContainerSpec, Play, ServiceSpec, Step
from engine.registry import Instance, Registry, RegistryError, instance_id
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
                 scope_for: Callable[[str, Play], Mapping[str, Any]]) -> None:
        self.plan = plan
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
                changed, message = self._reconcile(host, play, step, desired, scope)
            except EngineDown as error:
                raise EngineDown(self._withdraw(host, play, step, scope, str(error))) from None
            if placement is not None:
                message = "; ".join(filter(None, [message, placement.by_host[host].why]))
                if placement.missing and host == self._reporter_of(step, placement):
                    raise ContainerError(placement.shortfall)
        except template_errors(ContainerError, RegistryError, ValueError) as error:
            return StepResult(host, step_id, "failed", msg=str(error),
                              duration=time.monotonic() - started)
        return StepResult(host, step_id, "changed" if changed else "ok", msg=message,
                          duration=time.monotonic() - started)

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
                   scope: Mapping[str, Any]) -> tuple[bool, str]:
        docker = Docker(self.connect(host))
        facts = self.facts(host)
        current = facts.containers.get(desired.name)
        aside = facts.containers.get(desired.name + OLD_SUFFIX)
        if aside is not None and not self.check:
            current = self._recover_interrupted(docker, desired.name, current is not None)
        image_id = self._image(docker, host, desired, facts)
        change = decide(desired, current, image_id, self.is_notified(host, step.name))
        if not change.is_needed:
            if current is not None and desired.state == "started" and \
                    current.health in (None, "healthy"):
                self._note_healthy(host, step, current.image_id)
            return False, ""
        if self.check:
            return True, f"would {change.describe()}"
        self._apply(docker, host, play, step, desired, change, image_id or "", scope)
        if desired.state == "started":
            self._note_healthy(host, step, image_id or "")
        return True, change.describe()

    def _recover_interrupted(self, docker: Docker, name: str,
                             has_new: bool) -> CurrentContainer | None:
        """A run killed mid-update left `<name>.play-old`: put it back when the new one is
        missing, drop it otherwise; then read the container again."""
        if has_new:
            docker.command("rm", "-f", name + OLD_SUFFIX)
        else:
            docker.command("rename", name + OLD_SUFFIX, name)
        result = docker.command("inspect", name)
        if not result.is_ok:
            return None
        return parse_container(json.loads(result.stdout)[0])

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

    def _apply(self, docker: Docker, host: str, play: Play, step: Step,
               desired: DesiredContainer, change: ContainerChange, image_id: str,
               scope: Mapping[str, Any]) -> None:
        work = change.work
        if work in ("create", "start"):
            # whatever the registry says of a container that is gone or exited is stale:
            # it comes back only once the new one is healthy (the service step)
            self._deregister(self.registry_for(play), host, play, step, scope, drain=False)
        if work == "create":
            if desired.state == "stopped":
                _check(docker.command(*_create_only(desired)), "create", desired.name)
                return
            _check(docker.create_and_start(desired, desired.name), "start", desired.name)
            self._wait(docker, host, desired, image_id)
            return
        if work == "start":
            _check(docker.command("start", desired.name), "start", desired.name)
            self._wait(docker, host, desired, image_id)
            return
        registry = self.registry_for(play)
        removed = self._deregister(registry, host, play, step, scope)
        if work == "stop":
            _check(docker.command("stop", desired.name), "stop", desired.name)
        elif work == "remove":
            _check(docker.command("rm", "-f", desired.name), "remove", desired.name)
        elif work == "restart":
            _check(docker.command("restart", desired.name), "restart", desired.name)
            self._wait(docker, host, desired, image_id)
        elif work == "recreate":
            self._replace(docker, desired, registry, removed,
                          has_new_image="its image changed" in change.reasons)

    def _replace(self, docker: Docker, desired: DesiredContainer, registry: Registry,
                 removed: list[Instance], has_new_image: bool) -> None:
        aside = desired.name + OLD_SUFFIX
        _check(docker.set_aside(desired.name, aside, desired.stop_timeout), "stop", desired.name)
        started = docker.create_and_start(desired, desired.name)
        health = docker.wait_healthy(desired.name, desired.health.patience
                                     if desired.health else 30.0) if started.is_ok else None
        if health is not None and health.is_healthy:
            docker.command("rm", "-f", aside)
            if has_new_image:  # only then can an older image of it be left behind
                docker.prune_images(image_repository(desired.image), desired.keep_images)
            return
        # roll back: the old container comes back and is registered again
        _check(docker.put_back(desired.name, aside), "roll back", desired.name)
        old = docker.wait_healthy(desired.name, desired.health.patience if desired.health
                                  else 30.0)
        if old.is_healthy:
            for instance in removed:
                registry.register(instance)
        why = (health.state + (f"; last health check: {health.output}" if health.output else "")
               if health is not None else started.stderr_tail())
        raise ContainerError(f"new {desired.name} did not become healthy ({why}); rolled back "
                             f"to the previous container"
                             + ("" if old.is_healthy else f", which is not healthy either "
                                f"({old.state})"))

    def _wait(self, docker: Docker, host: str, desired: DesiredContainer, image_id: str) -> None:
        health = docker.wait_healthy(desired.name, desired.health.patience if desired.health
                                     else 30.0)
        if not health.is_healthy:
            raise ContainerError(f"{desired.name} did not become healthy ({health.state})"
                                 + (f"; last health check: {health.output}"
                                    if health.output else ""))

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


def _check(result: CommandResult, what: str, name: str) -> None:
    if not result.is_ok:
        raise ContainerError(f"cannot {what} {name}: {result.stderr_tail()}")


def _create_only(desired: DesiredContainer) -> list[str]:
    return run_arguments(desired, desired.name)[1:]


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
