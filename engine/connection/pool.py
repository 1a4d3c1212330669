"""The run's connections: one per host, opened on first use by whichever step gets
there first, shared by every later step on that host, closed at the end.

`EarlyConnections` opens the first hosts' connections in the background while the run
is still planning, so that the SSH handshakes overlap with start-up work; the pool
then takes them over as if it had opened them itself (same connection, same error).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from engine.connection import Connection, ConnectionSettings, open_connection
from engine.errors import UnreachableError


class _Opening:
    """One connection being opened in a background thread."""

    def __init__(self, settings: ConnectionSettings) -> None:
        self.settings = settings
        self.done = threading.Event()
        self.connection: Connection | None = None
        self.error: UnreachableError | None = None
        self.is_abandoned = False  # closed before anyone took it: close it when it opens
        self.lock = threading.Lock()
        threading.Thread(target=self._open, name=f"connect-{settings.host}",
                         daemon=True).start()

    def _open(self) -> None:
        try:
            connection = open_connection(self.settings)
        except UnreachableError as error:
            self.error = error
        except Exception as error:  # a bug in opening must not leave take() waiting forever
            self.error = UnreachableError(f"cannot connect: {type(error).__name__}: {error}")
        else:
            with self.lock:
                if self.is_abandoned:
                    connection.close()
                else:
                    self.connection = connection
        self.done.set()

    def abandon(self) -> None:
        with self.lock:
            self.is_abandoned = True
            if self.connection is not None:
                self.connection.close()
                self.connection = None


class EarlyConnections:
    def __init__(self) -> None:
        self._opening: dict[str, _Opening] = {}
        self._lock = threading.Lock()

    def start(self, settings: Iterable[ConnectionSettings]) -> None:
        """Start opening these connections; nothing is raised here."""
        with self._lock:
            for one in settings:
                self._opening.setdefault(one.host, _Opening(one))

    def take(self, settings: ConnectionSettings) -> Connection | None:
        """The connection opened early with these settings, once open (raising its
        `UnreachableError`), or None when none was started for them."""
        with self._lock:
            opening = self._opening.pop(settings.host, None)
        if opening is None:
            return None
        if opening.settings != settings:
            opening.abandon()
            return None
        opening.done.wait()
        if opening.error is not None:
            raise opening.error
        return opening.connection

    def close(self) -> None:
        """Close what nobody took; a connection still opening closes itself when open."""
        with self._lock:
            left, self._opening = list(self._opening.values()), {}
        for opening in left:
            opening.abandon()


class ConnectionPool:
    def __init__(self, settings: Mapping[str, ConnectionSettings],
                 early: EarlyConnections | None = None) -> None:
        self._settings = settings
        self._early = early or EarlyConnections()
        self._connections: dict[str, Connection] = {}
        self._failures: dict[str, str] = {}
        self._locks = {host: threading.Lock() for host in settings}

    def get(self, host: str) -> Connection:
        """The host's connection; raises `UnreachableError` (every time) if it cannot open."""
        with self._locks[host]:
            if host in self._failures:
                raise UnreachableError(self._failures[host])
            connection = self._connections.get(host)
            if connection is None:
                try:
                    connection = self._early.take(self._settings[host])
                    if connection is None:
                        connection = open_connection(self._settings[host])
                except UnreachableError as error:
                    self._failures[host] = error.message
                    raise
                self._connections[host] = connection
            return connection

    def knows(self, host: str) -> bool:
        return host in self._settings

    def mark_lost(self, host: str, reason: str) -> None:
        with self._locks[host]:
            self._failures.setdefault(host, reason)

    def commands_run(self) -> dict[str, int]:
        return {host: connection.commands_run for host, connection in self._connections.items()}

    def close(self) -> None:
        self._early.close()
        for connection in self._connections.values():
            connection.close()
