"""Container steps: reconcile one container on one host (zero-downtime order:
deregister -> drain -> stop old -> start new -> wait healthy; the service step then
registers). The jobs it draws on live beside it: the facts of each host
(`facts_cache.py`), the swap plan (`swap.py`, pure), carrying it out and rolling back
(`apply.py`), the service records and their drain (`drain.py`), which containers are
healthy (`health.py`) and what the consumers did (`follow.py`). Service steps live in
engine/containers/services.py.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from engine.containers.apply import carry_out, image_on_host
from engine.containers.context import ContainerContext
from engine.containers.desired import env_file_values, rendered_fields
from engine.containers.docker import Docker, run_line_problem
from engine.containers.drain import ServiceRecords, services_of
from engine.containers.facts import ContainerError, EngineDown
from engine.containers.facts_cache import FactsCache, planned_images
from engine.containers.follow import FollowNotes
from engine.containers.health import HealthBook, replicated_started
from engine.containers.placement import Placement
from engine.containers.replicas import Replicas, hosts_needing_resources
from engine.containers.spec import OLD_SUFFIX, DesiredContainer, desired_container
from engine.containers.swap import plan_swap
from engine.execute import Node
from engine.playbook import ContainerSpec, Play, Step
from engine.registry import RegistryError
from engine.results import StepResult
from engine.templating import evaluate, render, template_errors

if TYPE_CHECKING:
    from engine.plan import Plan


class ContainerSteps:
    """Runs the container nodes of one run."""

    def __init__(self, plan: Plan, context: ContainerContext) -> None:
        self.plan = plan
        self.context = context
        self.facts = FactsCache(
            context.connect, lambda host: planned_images(plan, host, context.scope_for),
            hosts_needing_resources(plan))
        self.replicas = Replicas(plan, self.facts.get, context.registry_for, context.scope_for)
        self.health = HealthBook(replicated_started(plan))
        self.notes = FollowNotes(context.follow)

    def run_container(self, node: Node, scope: Mapping[str, Any]) -> StepResult:
        host, step_id = node
        step = self.plan.steps[step_id]
        assert isinstance(step.body, ContainerSpec)
        started = time.monotonic()
        try:
            if step.body.when is not None and not evaluate(step.body.when, scope):
                return StepResult(host, step_id, "skipped", msg="condition is false")
            # --check starts nothing: no replica is proven healthy
            unhealthy = None if self.context.check else self.health.unhealthy_dependency(
                step.body)
            if unhealthy is not None:
                return StepResult(host, step_id, "skipped", is_blocked=True,
                                  msg=f"no replica of container {render(unhealthy, scope)} is "
                                      "healthy")
            play = self.plan.playbook.plays[step.play]
            fields = rendered_fields(step.body, scope)
            placement = self.placement_of(host, step, scope)
            desired = desired_container(str(render(step.name, scope)), fields,
                                        env_file_values(step.body.env_file), play.name)
            if placement is not None and not placement.replicas_on(host):
                desired = dataclasses.replace(desired, state="absent")
            try:
                changed, message, diff = self._reconcile(host, play, step, desired, scope)
            except EngineDown as error:
                raise EngineDown(self._withdraw(host, play, step, scope, str(error))) from None
            message = "; ".join(filter(None, [message, *self.notes.take(host, step_id)]))
            if placement is not None:
                message = "; ".join(filter(None, [message, placement.by_host[host].why]))
                if placement.missing and host == _reporter_of(placement):
                    raise ContainerError(placement.shortfall)
        except template_errors(ContainerError, RegistryError, ValueError) as error:
            return StepResult(host, step_id, "failed",
                              msg="; ".join([str(error), *self.notes.take(host, step_id)]),
                              duration=time.monotonic() - started)
        return StepResult(host, step_id, "changed" if changed else "ok", msg=message,
                          diff=diff, duration=time.monotonic() - started)

    def placement_of(self, host: str, step: Step, scope: Mapping[str, Any]) -> Placement | None:
        """The replicas' placement of a `replicas: N` container, None for one per host."""
        if not isinstance(step.body, ContainerSpec) or step.body.replicas is None:
            return None
        return self.replicas.placement(step, scope)

    def _records(self, host: str, play: Play, step: Step,
                 scope: Mapping[str, Any]) -> ServiceRecords:
        return ServiceRecords(self.context.registry_for(play), host, services_of(play, step),
                              scope, lambda services: self.notes.follow(host, step.id, services))

    def _withdraw(self, host: str, play: Play, step: Step, scope: Mapping[str, Any],
                  reason: str) -> str:
        """Its engine is down, so nothing vouches for the container any more: its records
        leave the registry (a record claims a healthy container). Returns the message."""
        if self.context.check:
            return reason
        removed = self._records(host, play, step, scope).take_out(drain=False)
        if not removed:
            return reason
        return f"{reason}; removed {', '.join(i.instance for i in removed)} from the registry"

    def _reconcile(self, host: str, play: Play, step: Step, desired: DesiredContainer,
                   scope: Mapping[str, Any]) -> tuple[bool, str, str | None]:
        """Whether it changed, the step's message and, under --diff, what changed."""
        docker = Docker(self.context.connect(host))
        facts = self.facts.get(host)
        current = facts.containers.get(desired.name)
        aside = facts.containers.get(desired.name + OLD_SUFFIX)
        image_id = image_on_host(docker, host, desired, facts, may_pull=not self.context.check)
        plan = plan_swap(desired, current, aside, image_id,
                         self.context.is_notified(host, step.name))
        if any(command.op == "create" for command in plan.commands):
            # before the plan stops or moves anything: an old container must not be
            # stopped for a replacement whose `docker run` line the host cannot take
            too_long = run_line_problem(desired)
            if too_long is not None:
                raise ContainerError(f"cannot run container {desired.name}: {too_long}")
        diff = ("".join(f"{plan.work} {desired.name}: {reason}\n" for reason in plan.reasons)
                if self.context.diff and plan.is_change and plan.reasons else None)
        if self.context.check:
            return plan.is_change, f"would {plan.describe()}" if plan.is_change else "", diff
        if plan.commands:
            carry_out(docker, desired, plan, self._records(host, play, step, scope))
        if desired.state == "started":
            if plan.commands:
                self.health.note(host, step.id, image_id or "")
            elif current is not None and current.health in (None, "healthy"):
                self.health.note(host, step.id, current.image_id)
        return plan.is_change, plan.describe() if plan.is_change else "", diff


def _reporter_of(placement: Placement) -> str:
    """The one host whose step fails for replicas nobody had room for (one failure, not
    one per host): the first reachable candidate."""
    return next((d.host for d in placement.decisions if not d.why.startswith("unreachable")),
                placement.decisions[0].host)
