"""The run's connections: a connection opened early is the one steps get, and its
failure reaches the first step that needs the host exactly as if the step had tried."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import pytest

import engine.connection.pool
from engine.connection import CommandResult, Connection, ConnectionSettings
from engine.connection.pool import ConnectionPool, EarlyConnections
from engine.connection.settings import Endpoint
from engine.errors import UnreachableError


class FakeConnection(Connection):
    def __init__(self, host: str) -> None:
        self.host = host
        self.is_closed = False

    def run(self, argv: Sequence[str], *, stdin: bytes | None = None,
            timeout: float | None = None, become: bool = False,
            become_user: str | None = None) -> CommandResult:
        raise NotImplementedError

    def close(self) -> None:
        self.is_closed = True


class FakeOpener:
    """Stands in for open_connection: counts opens, can hold them, can refuse hosts."""

    def __init__(self, refused: Sequence[str] = ()) -> None:
        self.refused = refused
        self.opened: list[FakeConnection] = []
        self.may_finish = threading.Event()
        self.may_finish.set()

    def __call__(self, settings: ConnectionSettings) -> Connection:
        self.may_finish.wait(5)
        if settings.host in self.refused:
            raise UnreachableError(f"cannot connect to {settings.endpoint.address}: refused")
        connection = FakeConnection(settings.host)
        self.opened.append(connection)
        return connection


@pytest.fixture
def opener(monkeypatch: pytest.MonkeyPatch) -> FakeOpener:
    fake = FakeOpener(refused=["down"])
    monkeypatch.setattr(engine.connection.pool, "open_connection", fake)
    return fake


def settings(host: str, port: int = 22) -> ConnectionSettings:
    return ConnectionSettings(host=host, connection="ssh",
                              endpoint=Endpoint("127.0.0.9", port, "u"), key_files=(),
                              known_hosts="/nonexistent", host_key_policy="strict",
                              jumps=(), proxy_command=None,
                              connect_timeout=1.0, command_timeout=None, become=False,
                              become_password=None)


def eventually(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_connection_opened_early_is_the_one_steps_get(opener: FakeOpener) -> None:
    early = EarlyConnections()
    early.start([settings("web1")])
    pool = ConnectionPool({"web1": settings("web1"), "web2": settings("web2")}, early)
    assert pool.get("web1") is pool.get("web1")
    pool.get("web2")
    assert sorted(connection.host for connection in opener.opened) == ["web1", "web2"]
    pool.close()
    assert all(connection.is_closed for connection in opener.opened)


def test_an_early_failure_is_raised_by_every_step_with_its_message(opener: FakeOpener) -> None:
    early = EarlyConnections()
    early.start([settings("down")])
    pool = ConnectionPool({"down": settings("down")}, early)
    for _ in range(2):
        with pytest.raises(UnreachableError, match=r"^cannot connect to 127\.0\.0\.9: refused$"):
            pool.get("down")
    pool.close()


def test_a_step_waits_for_the_connection_still_opening(opener: FakeOpener) -> None:
    opener.may_finish.clear()
    early = EarlyConnections()
    early.start([settings("web1")])
    pool = ConnectionPool({"web1": settings("web1")}, early)
    threading.Timer(0.1, opener.may_finish.set).start()
    assert pool.get("web1").host == "web1"
    assert len(opener.opened) == 1
    pool.close()


def test_connections_nobody_took_are_closed_even_while_opening(opener: FakeOpener) -> None:
    early = EarlyConnections()
    early.start([settings("web1")])
    opener.may_finish.clear()
    early.start([settings("web2")])  # web1 may be open already; web2 is still opening
    early.close()
    opener.may_finish.set()
    assert eventually(lambda: [opened.is_closed for opened in opener.opened] == [True, True])


def test_changed_settings_open_a_new_connection(opener: FakeOpener) -> None:
    early = EarlyConnections()
    early.start([settings("web1", port=22)])
    pool = ConnectionPool({"web1": settings("web1", port=2222)}, early)
    connection = pool.get("web1")
    pool.close()
    assert len(opener.opened) == 2
    assert all(opened.is_closed for opened in opener.opened)
    assert connection in opener.opened


class EchoConnection(FakeConnection):
    def run(self, argv: Sequence[str], *, stdin: bytes | None = None,
            timeout: float | None = None, become: bool = False,
            become_user: str | None = None) -> CommandResult:
        self._count_command()
        return CommandResult(" ".join(argv), 0, "out", "", 0.0)


def test_with_a_trace_every_command_and_each_opening_is_reported_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine.connection.pool, "open_connection",
                        lambda one: EchoConnection(one.host))
    traced: list[tuple[str, str]] = []
    opened: list[str] = []
    pool = ConnectionPool({"web1": settings("web1")}, trace=lambda host, result:
                          traced.append((host, result.command)),
                          on_open=lambda one, seconds: opened.append(one.host))
    pool.get("web1").run(["echo", "a"])
    pool.get("web1").put(b"x", "/tmp/f")
    assert traced[0] == ("web1", "echo a") and traced[1][1].startswith("/bin/sh -c")
    assert opened == ["web1"] and pool.commands_run() == {"web1": 2}
    pool.close()
