"""A run's options (what the command line asked for) and `Prepared` (what `engine.run.prepare`
made of them, all validated): the values the commands, the run and its wiring pass along.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.inventory.overrides import ConnectionDefaults

if TYPE_CHECKING:
    from engine.connection import ConnectionSettings
    from engine.inventory import Inventory
    from engine.plan import Plan
    from engine.registry import RegistryConfig


@dataclass(frozen=True)
class RunOptions:
    playbook: str
    inventories: tuple[str, ...] = ()
    limit: str | None = None
    extra_vars: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    skip_tags: tuple[str, ...] = ()
    check: bool = False
    diff: bool = False
    forks: int = 50
    per_host: int = 8
    json: bool = False
    log: str | None = None
    report: str | None = None   # the HTML run report's path (output/report.py)
    lock_timeout: float = 60.0
    option_names: tuple[str, ...] = ()  # recorded in the deploy lock, without their values
    verbosity: int = 0                  # -v: commands, -vv: and their output, -vvv: and SSH
    # -u, -b, -K, -k: under every host's own inventory variables
    connection_defaults: ConnectionDefaults = field(default_factory=ConnectionDefaults)
    start_at_task: str | None = None
    retry_file: str | None = None       # a failed run writes its failed hosts here


@dataclass(frozen=True)
class Prepared:
    """Everything a run needs, all validated."""

    plan: Plan
    inventory: Inventory
    extra_vars: Mapping[str, Any]
    registries: Mapping[int, RegistryConfig]   # by play index
    default_registry: RegistryConfig           # of all the run's hosts: holds the deploy lock
    # How to reach every host of the plan and every file registry host.
    connection_settings: Mapping[str, ConnectionSettings]
