"""Service steps: register a service instance once its container is healthy (and
take it out when the container is not wanted there), then sweep the service's records
that no host's own step will fix (engine/containers/sweep.py).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from engine.containers.docker import Docker
from engine.containers.facts import ContainerError
from engine.containers.health import Healthy
from engine.containers.step import ContainerSteps
from engine.containers.sweep import Grace, HostsOfService, sweep_service
from engine.errors import UnreachableError
from engine.execute import Node
from engine.names import instance_id
from engine.playbook import ContainerSpec, Play, ServiceSpec, Step
from engine.registry import Instance, Registry, RegistryError
from engine.results import StepResult
from engine.templating import evaluate, render, template_errors


def refuse_secrets(instance: Instance, scope: Mapping[str, Any]) -> None:
    """A registry record is read by every run and every `play registry ls`: a secret (a
    vaulted value, a `secret_vars` one) in a service's tags or meta fails the step
    (ValueError) before it is written."""
    from engine.output.redaction import Redactor, secret_values

    secrets = Redactor(secret_values(scope))
    if any(secrets.contains_secret(text) for text in (*instance.tags, *instance.meta.values())):
        raise ValueError(f"service {instance.service!r}: its tags or meta hold a secret (a "
                         "vaulted or secret_vars value); registry records are no place for "
                         "secrets: keep it out of them")


class ServiceSteps:
    """Runs the service nodes of one run, beside the container steps they follow."""

    def __init__(self, containers: ContainerSteps, addresses: Mapping[str, str],
                 grace_for: Callable[[Play], Grace]) -> None:
        """`addresses`: host -> the address its records give."""
        self.containers = containers
        self.context = containers.context
        self.addresses = addresses
        self.grace_for = grace_for
        self._swept: set[tuple[int, str]] = set()
        self._lock = threading.Lock()

    def run_service(self, node: Node, scope: Mapping[str, Any]) -> StepResult:
        started = time.monotonic()
        try:
            result = self._service(node, scope)
        except template_errors(ContainerError, RegistryError, ValueError) as error:
            result = StepResult(node[0], node[1], "failed", msg=str(error))
        return dataclasses.replace(result, duration=time.monotonic() - started)

    def _service(self, node: Node, scope: Mapping[str, Any]) -> StepResult:
        host, step_id = node
        step = self.containers.plan.steps[step_id]
        body = step.body
        assert isinstance(body, ServiceSpec)
        if body.when is not None and not evaluate(body.when, scope):
            return StepResult(host, step_id, "skipped", msg="condition is false")
        play = self.containers.plan.playbook.plays[step.play]
        registry = self.context.registry_for(play)
        container_step = next(s for s in play.steps_of("container") if s.name == body.container)
        assert isinstance(container_step.body, ContainerSpec)
        name = str(render(step.name, scope))
        result = self._own_instance(host, step, container_step, registry, name, scope)
        swept = [] if self.context.check else self._sweep(play, step, registry, name)
        if result.status == "changed" or swept:
            # registered once healthy, or taken out: the consumers follow at once
            self.containers.notes.follow(host, step_id, {name})
        notes = self.containers.notes.take(host, step_id)
        if not swept and not notes:
            return result
        return dataclasses.replace(result, status="changed" if swept else result.status,
                                   msg="; ".join(filter(None, [result.msg, *swept, *notes])))

    def _own_instance(self, host: str, step: Step, container_step: Step, registry: Registry,
                      name: str, scope: Mapping[str, Any]) -> StepResult:
        body = step.body
        assert isinstance(body, ServiceSpec) and isinstance(container_step.body, ContainerSpec)
        step_id = step.id
        placement = self.containers.placement_of(host, container_step, scope)
        wanted_absent = render(container_step.body.state, scope) != "started" or (
            placement is not None and not placement.replicas_on(host))
        existing = {i.instance: i for i in registry.instances(name)}
        own_id = instance_id(name, host)
        if wanted_absent:
            if own_id not in existing:
                return StepResult(host, step_id, "ok")
            if not self.context.check:
                registry.deregister(name, own_id)
            return StepResult(host, step_id, "changed", msg="deregistered")
        container_name = str(render(container_step.name, scope))
        healthy = self.containers.health.get(host, container_step.id)
        if healthy is None:
            if self.context.check:
                return StepResult(host, step_id, "changed", msg="would register")
            healthy = self._current_health(host, container_name)
        instance = Instance(
            service=name, instance=own_id, host=host, address=self.addresses[host],
            port=int(render(body.port, scope)),
            tags=tuple(str(tag) for tag in render(list(body.tags), scope)),
            meta={str(k): str(v) for k, v in render(dict(body.meta), scope).items()},
            container=container_name, image_id=healthy.image_id,
            registered_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        refuse_secrets(instance, scope)
        old = existing.get(own_id)
        if old is not None and _same_record(old, instance):
            if getattr(registry, "records_expire", False) and not self.context.check:
                registry.register(instance)  # renews its lease; nothing changed
            return StepResult(host, step_id, "ok")
        if not self.context.check:
            registry.register(instance)
        return StepResult(host, step_id, "changed",
                          msg=("would register" if self.context.check else "registered"))

    def _sweep(self, play: Play, step: Step, registry: Registry, name: str) -> list[str]:
        """Once per service and run (whichever host gets there first): the records that
        no host's own step will fix (engine/containers/sweep.py)."""
        with self._lock:
            if (play.index, name) in self._swept:
                return []
            self._swept.add((play.index, name))
        placement = self.containers.plan.placements[play.index]
        hosts = HostsOfService(of_play=placement.pattern_hosts, in_run=placement.hosts,
                               has_step=lambda host: (host, step.id) in self.containers.plan.graph,
                               is_reachable=self._is_reachable)
        return sweep_service(registry, name, hosts, self.grace_for(play))

    def _is_reachable(self, host: str) -> bool:
        try:
            self.context.connect(host)
        except UnreachableError:
            return False
        return True

    def _current_health(self, host: str, name: str) -> Healthy:
        """The container step did not run this time (tags, --limit): ask Docker."""
        docker = Docker(self.context.connect(host))
        health = docker.wait_healthy(name, 30.0)
        if not health.is_healthy:
            raise ContainerError(f"container {name} is not healthy ({health.state})")
        current = self.containers.facts.get(host).containers.get(name)
        return Healthy(current.image_id if current else "")


def _same_record(old: Instance, new: Instance) -> bool:
    return dataclasses.replace(old, registered_at="") == dataclasses.replace(
        new, registered_at="")
