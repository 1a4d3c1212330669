"""A container's service records on its host: taken out of the registry before the
container stops, with the longest drain of its services waited so that traffic leaves
first, and put back when a rollback brings the old container back healthy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engine.names import instance_id
from engine.playbook import Play, ServiceSpec, Step
from engine.registry import Instance, Registry
from engine.templating import render


def services_of(play: Play, container: Step) -> list[Step]:
    """The play's service steps that register this container."""
    return [step for step in play.steps_of("service")
            if isinstance(step.body, ServiceSpec) and step.body.container == container.name]


class ServiceRecords:
    def __init__(self, registry: Registry, host: str, services: Sequence[Step],
                 scope: Mapping[str, Any], on_change: Callable[[set[str]], None]) -> None:
        """`on_change` gets the services whose records changed (the consumers follow)."""
        self._registry = registry
        self._host = host
        self._services = services
        self._scope = scope
        self._on_change = on_change
        self._removed: list[Instance] = []

    def take_out(self, drain: bool = True) -> list[Instance]:
        """Deregister this host's instances and, when `drain`, wait the longest drain of
        their services. Returns what was removed."""
        if not self._services:
            return []
        names = [str(render(step.name, self._scope)) for step in self._services]
        removed = [instance for name in names for instance in self._registry.instances(name)
                   if instance.instance == instance_id(name, self._host)]
        for instance in removed:
            self._registry.deregister(instance.service, instance.instance)
        self._removed += removed
        # the consumers stop sending there first: the drain is for requests in flight
        self._on_change({instance.service for instance in removed})
        if not drain:
            return removed
        drain_time = max(float(render(step.body.drain, self._scope) or 0)
                         for step in self._services if isinstance(step.body, ServiceSpec))
        if removed and drain_time > 0:
            time.sleep(drain_time)
        return removed

    def put_back(self) -> None:
        """Register again what `take_out` removed (the old container is healthy again)."""
        for instance in self._removed:
            self._registry.register(instance)
        self._on_change({instance.service for instance in self._removed})
