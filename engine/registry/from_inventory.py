"""The registry an inventory names, opened for one `play registry` command and closed
after it, together with the SSH connection to its registry host (if any)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from engine.connection import Connection, open_connection, settings_for
from engine.errors import InputError, Location, did_you_mean
from engine.registry import Registry, RegistryConfig, hosts_registry, open_registry
from engine.registry.config import owner_of

if TYPE_CHECKING:
    from engine.inventory import Inventory


def registry_owner(inventory: Inventory) -> str:
    """Whose records the inventory's commands may change (engine/registry/config.py)."""

    return owner_of(_config(inventory), inventory.sources)


def _config(inventory: Inventory) -> RegistryConfig:
    where = Location(inventory.sources[0] if inventory.sources else "<inventory>")
    return hosts_registry({name: host.vars for name, host in inventory.hosts.items()}, where)


@contextmanager
def inventory_registry(inventory: Inventory) -> Iterator[Registry]:
    """Raises `InputError` for a bad `registry` var, `RegistryError` when the registry
    host cannot be reached."""
    where = Location(inventory.sources[0] if inventory.sources else "<inventory>")
    config = _config(inventory)
    if config.host is not None and config.host not in inventory.hosts:
        raise InputError(f"registry host {config.host!r} is not in the inventory"
                         f"{did_you_mean(config.host, inventory.hosts)}", where)
    opened: list[Connection] = []

    def connect(host: str) -> Connection:
        # open_registry leaves a connection it is given open: run's pool owns those
        opened.append(open_connection(settings_for(inventory.hosts[host])))
        return opened[-1]

    registry = open_registry(config, connect)
    try:
        yield registry
    finally:
        registry.close()
        for connection in opened:
            connection.close()
