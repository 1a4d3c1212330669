"""Load stage: read Ansible-style inventories (-i files and folders) into an `Inventory`.

`sources` reads each file (YAML or INI) into a mutable draft; `build` checks the
group tree, merges variables (see its docstring for the order) and freezes the
result into the `model` dataclasses the rest of the pipeline uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from engine.inventory.build import build_inventory
from engine.inventory.model import Group, Host, Inventory, implicit_localhost
from engine.inventory.sources import read_sources

__all__ = ["Group", "Host", "Inventory", "implicit_localhost", "load_inventory"]


def load_inventory(sources: Sequence[str | Path]) -> Inventory:
    """Read every source in order; later sources add hosts and groups and override vars."""
    return build_inventory(read_sources(sources))
