"""The facts of each host, read once per run: one round trip (engine/containers/facts.py)
answers for every container step on the host, with the images they all want rendered for
it; the hosts that place replicas get their resources in the same round.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

from engine.containers.facts import EngineDown, HostFacts, facts_command, parse_facts
from engine.per_key import OncePerKey
from engine.playbook import ContainerSpec, Play
from engine.templating import render, template_errors

if TYPE_CHECKING:
    from engine.connection import Connection
    from engine.plan import Plan


class FactsCache:
    def __init__(self, connect: Callable[[str], Connection],
                 images_of: Callable[[str], list[str]], resource_hosts: Collection[str]) -> None:
        self._connect = connect
        self._images_of = images_of
        self._resource_hosts = resource_hosts
        self._facts: OncePerKey[str, HostFacts] = OncePerKey()

    def get(self, host: str) -> HostFacts:
        return self._facts.get(host, lambda: self._read(host))

    def _read(self, host: str) -> HostFacts:
        images = self._images_of(host)
        result = self._connect(host).run(
            facts_command(images, with_resources=host in self._resource_hosts))
        if not result.is_ok:
            raise EngineDown(f"cannot read the containers on {host} "
                             f"(is its Docker engine running?): {result.stderr_tail()}")
        return parse_facts(result.stdout, images)


def planned_images(plan: Plan, host: str,
                   scope_for: Callable[[str, Play], Mapping[str, Any]]) -> list[str]:
    """The images every container step of this host wants, rendered for the host, so
    that one inspect answers for all of them."""
    images = []
    for node_host, step_id in plan.nodes:
        step = plan.steps[step_id]
        if node_host != host or not isinstance(step.body, ContainerSpec):
            continue
        play = plan.playbook.plays[step.play]
        try:
            images.append(str(render(step.body.image, scope_for(host, play))))
        except template_errors():
            continue  # that step will report the error itself
    return images
