"""The registry's records of a playbook's services after its run (without their meta),
for the machine outputs (`--json`, `--report`), read through the run's registry cache:
what the run wrote costs no new round trip.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from engine.playbook import Playbook
from engine.registry.config import RegistryConfig
from engine.registry.model import RegistryError
from engine.registry.pool import RegistryPool
from engine.templating import is_template


def service_records(playbook: Playbook, configs: Mapping[int, RegistryConfig],
                    registries: RegistryPool,
                    warn: Callable[[str], None]) -> list[dict[str, Any]] | None:
    """`configs`: play index -> its registry. None when the playbook registers no
    service."""
    wanted: dict[RegistryConfig, set[str] | None] = {}   # None: every service
    for play in playbook.plays:
        for step in play.steps_of("service"):
            config = configs[play.index]
            names = wanted.setdefault(config, set())
            if is_template(step.name):   # rendered per host: which names is not known here
                wanted[config] = None
            elif names is not None:
                names.add(step.name)
    if not wanted:
        return None
    records: list[dict[str, Any]] = []
    for config, services in wanted.items():
        try:
            scan = registries.get(config).scan()
        except RegistryError as error:
            warn(f"registry: the records after the run could not be read: {error}")
            continue
        for instance in scan.instances:
            if services is None or instance.service in services:
                record = json.loads(instance.to_json())
                # meta is free-form (a playbook may put anything there) and no output
                # showed it before: `play registry ls --json` does, on purpose
                record.pop("meta", None)
                records.append(record)
    return sorted(records, key=lambda record: (record["service"], record["instance"]))
