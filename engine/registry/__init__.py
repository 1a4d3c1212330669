"""The registry stage: where healthy service instances are recorded and where a run
takes its deploy lock. `open_registry` picks the backend a `RegistryConfig` names.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

from engine.connection import Connection
from engine.connection.local import LocalConnection
from engine.errors import UnreachableError
from engine.registry.config import RegistryConfig, hosts_registry, read_password, registry_config
from engine.registry.file import FileRegistry
from engine.registry.model import (
    HeldLock,
    Instance,
    LockBusy,
    LockOwner,
    Registry,
    RegistryError,
    Scan,
    serving,
    utc_now,
)


def open_registry(config: RegistryConfig, connect: Callable[[str], Connection]) -> Registry:
    """`connect(host)` gives the run's connection to an inventory host; the registry uses
    it and leaves it open. Nothing is contacted until the first operation, except the
    registry host's SSH connection."""
    if config.backend == "etcd":
        from engine.registry.etcd import EtcdAccess, EtcdRegistry

        access = EtcdAccess(config.user, read_password(config) if config.user else "",
                            config.ca_file, config.cert_file, config.key_file)
        return EtcdRegistry(config.endpoints, config.prefix, config.ttl, access=access)

    if config.host is None:
        return FileRegistry(LocalConnection(socket.gethostname()),
                            os.path.expanduser(config.root), become=config.become,
                            owns_connection=True)
    try:
        connection = connect(config.host)
    except UnreachableError as error:
        raise RegistryError(f"file registry {config.root} on {config.host}: cannot reach "
                            f"the registry host: {error}") from None
    return FileRegistry(connection, config.root, become=config.become)


__all__ = [
    "HeldLock",
    "Instance",
    "LockBusy",
    "LockOwner",
    "Registry",
    "RegistryConfig",
    "RegistryError",
    "Scan",
    "hosts_registry",
    "open_registry",
    "registry_config",
    "serving",
    "utc_now",
]
