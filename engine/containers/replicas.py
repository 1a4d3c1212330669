"""Where the replicas of a `replicas: N` container run in this converge.

The first container step of such a container to start reads the facts of every
candidate host (the same one-command facts round as the inspect, with the host's
resources added), asks the registry which replicas it still lists, and decides once
with `placement.place`; every candidate host's step then reconciles to that answer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from engine.containers.facts import ContainerError, HostFacts
from engine.containers.placement import Candidate, Placement, Policy, parse_memory, place
from engine.errors import UnreachableError
from engine.names import instance_id
from engine.per_key import OncePerKey
from engine.playbook import ContainerSpec, Play, ServiceSpec, Step
from engine.registry import Registry
from engine.templating import render, template_errors

if TYPE_CHECKING:
    from engine.plan import Plan


class Replicas:
    def __init__(self, plan: Plan, facts: Callable[[str], HostFacts],
                 registry_for: Callable[[Play], Registry],
                 scope_for: Callable[[str, Play], Mapping[str, Any]]) -> None:
        self.plan = plan
        self.facts = facts
        self.registry_for = registry_for
        self.scope_for = scope_for
        self._placements: OncePerKey[str, Placement] = OncePerKey()
        self._fixed_lock = threading.Lock()
        self._fixed_steps: dict[str, list[Step]] | None = None

    def candidates(self, step: Step) -> list[str]:
        """The play's hosts (inventory order) that may run this container: constraints
        and tags are already planned out of the graph."""
        placement = self.plan.placements[step.play]
        return [host for host in placement.hosts if (host, step.id) in self.plan.graph]

    def placement(self, step: Step, scope: Mapping[str, Any]) -> Placement:
        return self._placements.get(step.id, lambda: self._decide(step, scope))

    def _decide(self, step: Step, scope: Mapping[str, Any]) -> Placement:
        body = step.body
        # a template was rendered before the run (engine/playbook/resolve.py)
        assert isinstance(body, ContainerSpec) and isinstance(body.replicas, int)
        spec = body.placement
        assert spec is not None
        cpus, memory = render(body.cpus, scope), render(body.memory, scope)
        policy = Policy(replicas=body.replicas, spread=spec.spread, prefer=spec.prefer,
                        max_per_host=spec.max_per_host, cpus=float(cpus or 0),
                        memory=parse_memory(str(memory)) if memory else 0)
        play = self.plan.playbook.plays[step.play]
        registered = self._registered_hosts(play, step)
        hosts = self.candidates(step)
        with ThreadPoolExecutor(max_workers=max(1, min(len(hosts), 32))) as pool:
            candidates = list(pool.map(
                lambda host: self._candidate(host, play, step, registered), hosts))
        return place(policy, candidates)

    def _candidate(self, host: str, play: Play, step: Step,
                   registered: set[str] | None) -> Candidate:
        try:
            facts = self.facts(host)
        # unreachable or lost while its facts were read, its Docker engine down, or facts it
        # cannot parse
        except (UnreachableError, ContainerError, ValueError) as error:
            return Candidate(host, is_reachable=False, error=str(error))
        name = str(render(step.name, self.scope_for(host, play)))
        current = facts.containers.get(name)
        is_healthy = current is not None and current.is_running and \
            current.health in (None, "healthy")
        running = [c for c in facts.containers.values() if c.is_running]
        # what this run starts on the host counts as load before it runs, so a cold
        # converge does not put replicas beside the containers it is about to start
        others = {c.name for c in running} | self._fixed_names(host)
        others.discard(name)
        resources = facts.resources
        is_registered = registered is None or host in registered
        return Candidate(
            host, running=1 if is_healthy else 0, is_registered=is_registered,
            cpus=resources.cpus if resources else 1,
            cpus_reserved=sum(c.cpus for c in running if c.name != name),
            memory_free=resources.memory_free if resources else 0,
            load=resources.load if resources else 0.0,
            containers=len(others),
            # not healthy and not registered: its last step failed (a copy killed by hand
            # still has its record, and is restarted in place)
            is_failing=current is not None and not is_healthy and not is_registered)

    def _fixed_names(self, host: str) -> set[str]:
        """The containers this run starts on the host that are not replicated (one on every
        host of their play), by rendered name."""
        with self._fixed_lock:
            if self._fixed_steps is None:
                self._fixed_steps = {}
                for node_host, step_id in self.plan.nodes:
                    step = self.plan.steps[step_id]
                    if isinstance(step.body, ContainerSpec) and step.body.replicas is None \
                            and step.body.state == "started":
                        self._fixed_steps.setdefault(node_host, []).append(step)
            steps = self._fixed_steps.get(host, [])
        names = set()
        for step in steps:
            play = self.plan.playbook.plays[step.play]
            try:
                names.add(str(render(step.name, self.scope_for(host, play))))
            except template_errors():
                continue   # that step reports the error itself
        return names

    def _registered_hosts(self, play: Play, step: Step) -> set[str] | None:
        """Hosts whose replica the registry lists with a host that answered last time;
        None when the container provides no service (nothing to tell replicas apart)."""
        services = [s for s in play.steps_of("service")
                    if isinstance(s.body, ServiceSpec) and s.body.container == step.name]
        if not services:
            return None
        registry = self.registry_for(play)
        hosts: set[str] = set()
        for service in services:
            name = str(render(service.name, self.scope_for(self.candidates(step)[0], play)))
            hosts |= {i.host for i in registry.instances(name)
                      if i.instance == instance_id(name, i.host) and not i.missed}
        return hosts


def hosts_needing_resources(plan: Plan) -> frozenset[str]:
    """The hosts where a replicated container may run: their facts round reads the host's
    resources too."""
    return frozenset(host for host, step_id in plan.nodes if _is_replicated(plan.steps[step_id]))


def _is_replicated(step: Step) -> bool:
    return isinstance(step.body, ContainerSpec) and step.body.replicas is not None
