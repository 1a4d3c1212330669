"""A run's live parts wired together: the connection pool, the registries over it, the task
runner, and (when the plan has any) the container and service steps with the consumers
that follow the registry. Used by `engine.run.execute` and `play graph --explain`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.connection.pool import ConnectionPool
from engine.registry import open_registry, serving
from engine.registry.cache import OwnedRegistry
from engine.registry.config import owner_of
from engine.registry.pool import RegistryPool

if TYPE_CHECKING:
    from engine.connection.pool import EarlyConnections
    from engine.containers.step import ContainerSteps
    from engine.containers.sweep import Grace
    from engine.output.verbose import CommandTrace
    from engine.playbook import Play
    from engine.registry import Registry, RegistryConfig
    from engine.run_options import Prepared, RunOptions
    from engine.tasks import StepRunner


@dataclass(frozen=True)
class Wiring:
    """The run's live parts: connections, registries, and the step runners over them."""

    pool: ConnectionPool
    registries: RegistryPool
    runner: StepRunner
    containers: ContainerSteps | None   # None when the plan has no container or service

    def close(self) -> None:
        self.registries.close()
        self.pool.close()


def wire(prepared: Prepared, options: RunOptions, early: EarlyConnections | None = None,
         trace: CommandTrace | None = None) -> Wiring:
    """The run's parts over `prepared`'s connection settings, `early` connections adopted;
    container and service nodes handed to the task runner's `other_kinds`."""
    from engine.tasks import StepOptions, StepRunner  # not for `play graph` (engine/lazy.py)

    plan = prepared.plan
    pool = ConnectionPool(
        prepared.connection_settings, early, trace=trace.command if trace is not None else None,
        on_open=trace.connected if trace is not None and trace.verbosity >= 3 else None)
    registries = RegistryPool(pool.get, open_registry)

    def registry_for(play: Play) -> Registry:
        """What the play's steps may change: its owner's records only."""
        config = prepared.registries[play.index]
        return OwnedRegistry(registries.get(config),
                             owner_of(config, prepared.inventory.sources))

    def lookups(play: Play) -> dict[str, Any]:
        def services(name: str) -> list[dict[str, Any]]:
            # every owner's instances: a shared registry is for finding each other's
            return serving(registries.get(prepared.registries[play.index]).instances(name))
        return {"services": services}

    runner = StepRunner(plan, prepared.inventory, prepared.extra_vars, pool,
                        StepOptions(check=options.check, diff=options.diff), lookups)
    containers = None
    if any(step.kind in ("container", "service") for step in plan.steps.values()):
        # not imported by a tasks-only run
        from engine.containers.context import ContainerContext
        from engine.containers.services import ServiceSteps
        from engine.containers.step import ContainerSteps

        context = ContainerContext(pool.get, registry_for, runner.scope,
                                   runner.state.is_notified, check=options.check,
                                   diff=options.diff)
        if plan.readers:
            from engine.consumers import Consumers

            context = dataclasses.replace(
                context, follow=Consumers(plan, runner, pool.get, options.check).follow)
        containers = ContainerSteps(plan, context)
        services = ServiceSteps(containers,
                                {name: host.address for name, host in
                                 prepared.inventory.hosts.items()},
                                lambda play: _grace(prepared.registries[play.index]))
        runner.other_kinds = {"container": containers.run_container,
                              "service": services.run_service}
    return Wiring(pool, registries, runner, containers)


def _grace(config: RegistryConfig) -> Grace:
    from engine.containers.sweep import Grace

    return Grace(config.grace_converges, config.grace_seconds)
