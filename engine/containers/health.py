"""Which containers this run saw healthy, and on which image: the service step registers
an instance only for a healthy container, and a container that `depends_on` one with
replicas waits until a replica is healthy.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.playbook import ContainerSpec

if TYPE_CHECKING:
    from engine.plan import Plan


@dataclass(frozen=True)
class Healthy:
    image_id: str


class HealthBook:
    def __init__(self, replicated: Mapping[str, frozenset[str]]) -> None:
        """`replicated`: container name -> the ids of the steps that start its replicas
        (`replicated_started`)."""
        self._replicated = replicated
        self._healthy: dict[tuple[str, str], Healthy] = {}
        self._lock = threading.Lock()

    def note(self, host: str, step_id: str, image_id: str) -> None:
        with self._lock:
            self._healthy[(host, step_id)] = Healthy(image_id)

    def get(self, host: str, step_id: str) -> Healthy | None:
        with self._lock:
            return self._healthy.get((host, step_id))

    def unhealthy_dependency(self, body: ContainerSpec) -> str | None:
        """A `depends_on` container with replicas none of which is healthy, or None. The
        plan only orders a dependent after such a container's steps (a replica may move
        off a failing host), so this is where the dependent waits for one to be healthy
        (SPEC); a dependency without replicas is a hard edge the scheduler enforces."""
        for dependency in body.depends_on:
            step_ids = self._replicated.get(dependency)
            if not step_ids:
                continue
            with self._lock:
                if not any(step_id in step_ids for _, step_id in self._healthy):
                    return dependency
        return None


def replicated_started(plan: Plan) -> dict[str, frozenset[str]]:
    """container name -> the ids of the plan's steps that start replicas of it."""
    planned = {step_id for _, step_id in plan.nodes}
    replicated: dict[str, set[str]] = {}
    for step_id in planned:
        step = plan.steps[step_id]
        if isinstance(step.body, ContainerSpec) and step.body.replicas is not None \
                and step.body.state == "started":
            replicated.setdefault(step.name, set()).add(step_id)
    return {name: frozenset(step_ids) for name, step_ids in replicated.items()}
