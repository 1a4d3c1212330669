"""The run's connections: one per host, opened on first use by whichever step gets
there first, shared by every later step on that host, closed at the end.

`EarlyConnections` opens the first hosts' connections in the background while the run
is still planning, so that the SSH handshakes overlap with start-up work; the pool
then takes them over as if it had opened them itself (same connection, same error).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from engine.connection import CommandResult, Connection, ConnectionSettings, open_connection
from engine.errors import UnreachableError

# -v: called with the host and each command's result, from the thread that ran it
Trace = Callable[[str, CommandResult], None]
# -vvv: called with a host's settings and how long its connection took to open
OnOpen = Callable[[ConnectionSettings, float], None]


class _Traced(Connection):
    """A connection that reports every command it ran (for -v) and otherwise is the
    connection it wraps."""

    def __init__(self, inner: Connection, trace: Trace) -> None:
        self.host = inner.host
        self.inner = inner
        self.trace = trace

    @property
    def commands_run(self) -> int:  # type: ignore[override]
        return self.inner.commands_run

    def run(self, argv: Sequence[str], *, stdin: bytes | None = None,
            timeout: float | None = None, become: bool = False,
            become_user: str | None = None) -> CommandResult:
        result = self.inner.run(argv, stdin=stdin, timeout=timeout, become=become,
                                become_user=become_user)
        self.trace(self.host, result)
        return result

    def close(self) -> None:
        self.inner.close()


class _Opening:
    """One connection to open early: its settings, and once an opener thread has taken
    it, the connection or the error."""

    def __init__(self, settings: ConnectionSettings) -> None:
        self.settings = settings
        self.done = threading.Event()
        self.connection: Connection | None = None
        self.error: UnreachableError | None = None
        self.is_abandoned = False  # closed before anyone took it: close it when it opens
        self.lock = threading.Lock()

    def open(self) -> None:
        if self.is_abandoned:
            self.done.set()
            return
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


# Opener threads at once, whatever the host count: no more handshakes than this run at
# once anyway (engine/connection/ssh.py HANDSHAKES_AT_ONCE). A thread per host cost 22 s
# before a 1000-host run began: each Thread.start waits for its new thread to get the
# GIL, which 64 handshakes in progress were holding.
OPENERS = 64


class EarlyConnections:
    def __init__(self) -> None:
        self._opening: dict[str, _Opening] = {}
        self._queue: queue.SimpleQueue[_Opening] = queue.SimpleQueue()
        self._lock = threading.Lock()

    def start(self, settings: Iterable[ConnectionSettings]) -> None:
        """Start opening these connections, in this order; nothing is raised here."""
        added = 0
        with self._lock:
            for one in settings:
                if one.host not in self._opening:
                    self._opening[one.host] = _Opening(one)
                    self._queue.put(self._opening[one.host])
                    added += 1
        for _ in range(min(added, OPENERS)):
            threading.Thread(target=self._open_queued, name="connect", daemon=True).start()

    def _open_queued(self) -> None:
        while True:
            try:
                opening = self._queue.get_nowait()
            except queue.Empty:
                return
            opening.open()

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
        """Close what nobody took; a connection still opening closes itself when open,
        and one not started yet is never opened."""
        with self._lock:
            left, self._opening = list(self._opening.values()), {}
        for opening in left:
            opening.abandon()


class ConnectionPool:
    def __init__(self, settings: Mapping[str, ConnectionSettings],
                 early: EarlyConnections | None = None, trace: Trace | None = None,
                 on_open: OnOpen | None = None) -> None:
        self._settings = settings
        self._trace = trace
        self._on_open = on_open
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
                started = time.monotonic()
                try:
                    connection = self._early.take(self._settings[host])
                    if connection is None:
                        connection = open_connection(self._settings[host])
                except UnreachableError as error:
                    self._failures[host] = error.message
                    raise
                if self._on_open is not None:
                    self._on_open(self._settings[host], time.monotonic() - started)
                if self._trace is not None:
                    connection = _Traced(connection, self._trace)
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
