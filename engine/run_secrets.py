"""The values a run hides from every output (engine/output/redaction.py masks them): the
`secret_vars`, become and connection passwords as rendered on every host, and the etcd
registries' passwords.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from engine.output.redaction import secret_values
from engine.playbook import Play
from engine.registry.config import read_password
from engine.registry.model import RegistryError
from engine.run_options import Prepared


def run_secrets(prepared: Prepared,
                scope: Callable[[str, Play], Mapping[str, Any]]) -> set[str]:
    """Rendered values, on every host, of every variable named in a `secret_vars` list and
    of the become and connection passwords (engine/output/redaction.py), and the etcd
    registry passwords."""
    secrets: set[str] = set()
    for config in {*prepared.registries.values(), prepared.default_registry}:
        if config.user:  # etcd's password, read from its file or variable: never shown
            with contextlib.suppress(RegistryError):
                secrets.add(read_password(config))
    for placement in prepared.plan.placements:
        play = prepared.plan.playbook.plays[placement.play]
        for host in placement.hosts:
            secrets |= secret_values(scope(host, play))
    return secrets
