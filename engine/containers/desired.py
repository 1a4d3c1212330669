"""A container step's fields rendered for one host, and the values of its local env
files: what `desired_container` (engine/containers/spec.py) is made from. Used by the
container step and by the pre-run checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.containers.facts import ContainerError
from engine.playbook import ContainerSpec
from engine.templating import render


def rendered_fields(spec: ContainerSpec, scope: Mapping[str, Any]) -> dict[str, Any]:
    """Its fields for this host; the ones without a template as written (tuples stay
    tuples, which `desired_container` takes as it takes lists)."""
    fields = spec.per_host_fields()
    for name in spec.templated_fields:
        fields[name] = render(fields[name], scope)
    return fields


def env_file_values(paths: tuple[str, ...]) -> dict[str, str]:
    """KEY=VALUE lines of local env files (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    for path in paths:
        try:
            text = open(path, encoding="utf-8").read()  # noqa: SIM115 - read at once
        except OSError as error:
            raise ContainerError(f"cannot read env_file {path}: {error}") from None
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                values[key.strip()] = value
    return values
