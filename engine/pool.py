"""The run's connections: one per host, opened on first use by whichever step gets
there first, shared by every later step on that host, closed at the end.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from engine.connection import Connection, ConnectionSettings, UnreachableError, open_connection
from engine.execute import HostUnreachable


class ConnectionPool:
    def __init__(self, settings: Mapping[str, ConnectionSettings]) -> None:
        self._settings = settings
        self._connections: dict[str, Connection] = {}
        self._failures: dict[str, str] = {}
        self._locks = {host: threading.Lock() for host in settings}

    def get(self, host: str) -> Connection:
        """The host's connection; raises `HostUnreachable` (every time) if it cannot open."""
        with self._locks[host]:
            if host in self._failures:
                raise HostUnreachable(self._failures[host])
            connection = self._connections.get(host)
            if connection is None:
                try:
                    connection = open_connection(self._settings[host])
                except UnreachableError as error:
                    self._failures[host] = str(error)
                    raise HostUnreachable(str(error)) from None
                self._connections[host] = connection
            return connection

    def mark_lost(self, host: str, reason: str) -> None:
        with self._locks[host]:
            self._failures.setdefault(host, reason)

    def commands_run(self) -> dict[str, int]:
        return {host: connection.commands_run for host, connection in self._connections.items()}

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
