"""The registries one run uses, opened on first use (a run whose plays name no
registry and take no lock never touches one), each read once (see cache.py), and
closed at the end."""

from __future__ import annotations

import threading
from collections.abc import Callable

from engine.connection import Connection
from engine.registry.cache import CachedRegistry
from engine.registry.config import RegistryConfig
from engine.registry.model import Registry


class RegistryPool:
    def __init__(self, connect: Callable[[str], Connection],
                 open_registry: Callable[[RegistryConfig, Callable[[str], Connection]],
                                         Registry]) -> None:
        self._connect = connect
        self._open = open_registry
        self._registries: dict[RegistryConfig, CachedRegistry] = {}
        self._lock = threading.Lock()
        # where skipped records are reported: the run sets it once its reporter exists
        self.warn: Callable[[str], None] = lambda message: None

    def get(self, config: RegistryConfig) -> CachedRegistry:
        with self._lock:
            registry = self._registries.get(config)
            if registry is None:
                opened = self._open(config, self._connect)
                registry = CachedRegistry(opened, getattr(opened, "where", config.backend),
                                          records_expire=config.ttl > 0,
                                          warn=lambda message: self.warn(message))
                self._registries[config] = registry
            return registry

    def close(self) -> None:
        with self._lock:
            for registry in self._registries.values():
                registry.close()
            self._registries.clear()
