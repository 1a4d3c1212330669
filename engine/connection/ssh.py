"""SSH connections: one `fabric.Connection` per host per run, several channels at once.

Fabric opens the session (paramiko under it), reaches jump hosts through its `gateway`
and runs every command: `Connection.run`, and `Connection.sudo` when become has a
password (its prompt watcher answers sudo's own prompt, and only that). What play adds
around it: the socket gets TCP_NODELAY (without it every command round trip stalls
~40 ms on Nagle plus delayed ACK: 60 commands over 3 hosts, 1.2 s -> 0.36 s); host keys
are checked against known_hosts (engine/connection/known_hosts.py) on the host and on
every hop, where Fabric would accept any key; ProxyJump hops are visited in OpenSSH's
order (Fabric's own ProxyJump reading reverses a multi-hop list); invoke's runner is
tuned (engine/connection/runners.py).
"""

from __future__ import annotations

import functools
import socket
import threading
from collections.abc import Sequence
from typing import Any

import fabric
import paramiko
from invoke.exceptions import Failure, ThreadException
from invoke.runners import Result

from engine.connection.base import (
    SUDO_PROMPT,
    CommandResult,
    Connection,
    command_line,
)
from engine.connection.known_hosts import check_revoked, key_name, trust
from engine.connection.runners import FastRemote, Feed, command_result, sudo
from engine.connection.settings import ConnectionSettings, Endpoint, key_file_problem
from engine.errors import UnreachableError


class _RunConfig(fabric.Config):  # type: ignore[misc]
    """Fabric's Config, with the two attributes invoke looks for on every read of a
    section (`config.run`, `config.timeouts`, ...): its section proxies have them, the root
    has not, so each read raised and caught an AttributeError whose message lists every
    key and attribute (41 us, about 9 reads a command: 200 hosts x 5 commands took 3.48 s
    of CPU with them, 3.18 s without). Given here as a section proxy has them: the root
    is its own root, at the empty key path, so every write is tracked as before."""

    _keypath: tuple[str, ...] = ()

    @property
    def _root(self) -> _RunConfig:
        return self


@functools.cache
def _run_config() -> fabric.Config:
    """One Fabric config for the run's connections: the tuned runner, the run's sudo
    prompt, commands that never raise on a non-zero exit and print nothing themselves.
    (SSH config files were read when the settings were made; not again here.)"""
    return _RunConfig(lazy=True, overrides={
        "runners": {"remote": FastRemote},
        "run": {"warn": True, "hide": True, "in_stream": False},
        "sudo": {"prompt": SUDO_PROMPT},
        "load_ssh_configs": False,
    })


_CONFIG_LOCK = threading.Lock()
# SSH handshakes in progress at once, across the run. A handshake is mostly Python CPU
# under the GIL: 1000 started together all finished late (the threads share the GIL
# fairly), past the connect timeout, and hosts that answered were reported unreachable.
# In turns, each handshake is timed by its own host's answers.
HANDSHAKES_AT_ONCE = 64
_HANDSHAKES = threading.BoundedSemaphore(HANDSHAKES_AT_ONCE)
IDLE_WAKEUP = 2.0  # seconds between an idle transport thread's checks (see open())


def _host_config() -> fabric.Config:
    """A copy of the run's config for one host (0.65 ms): invoke's Config is not safe to
    share between threads (hosts opened at once read keys such as forward_agent while
    another connection wrote to it, and failed with "No attribute or config key found")."""
    with _CONFIG_LOCK:
        config: fabric.Config = _run_config().clone()
    return config


class _HostConnection(fabric.Connection):  # type: ignore[misc]
    """A fabric.Connection whose socket has TCP_NODELAY, whose host key is checked, and
    whose channels open within the connect timeout."""

    # Set through DataProxy._set: invoke turns a plain set of an attribute the class lacks
    # into a write to the config, which every connection of the run shares (one host read
    # another's settings; concurrent writes raised "No attribute or config key found").
    settings: ConnectionSettings
    key_name: str

    def __init__(self, settings: ConnectionSettings, endpoint: Endpoint,
                 gateway: fabric.Connection | str | None) -> None:
        key_files = list(settings.key_files)
        super().__init__(
            endpoint.address, user=endpoint.user, port=endpoint.port, config=_host_config(),
            # False, not None: None makes Fabric read ProxyJump itself, unchecked
            gateway=gateway if gateway is not None else False,
            connect_kwargs={
                # here, not as connect_timeout, which Fabric rounds down to whole seconds
                "timeout": settings.connect_timeout,
                "key_filename": key_files,
                "banner_timeout": settings.connect_timeout,
                "auth_timeout": settings.connect_timeout,
                "allow_agent": not key_files, "look_for_keys": not key_files,
                # password login (ansible_password), offered after the keys, and to the
                # host only: a jump host never sees it
                **({"password": settings.ssh_password}
                   if settings.ssh_password is not None and endpoint == settings.endpoint else {}),
            })
        self._set(settings=settings, key_name=key_name(endpoint.address, endpoint.port))
        trust(self.client, settings.known_hosts, self.key_name, settings.host_key_policy)

    def open(self) -> Any:
        if self.is_connected:
            return None
        with _HANDSHAKES:
            if not self.gateway:
                sock = socket.create_connection((self.host, self.port),
                                                timeout=self.settings.connect_timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.connect_kwargs["sock"] = sock
            try:
                opened = super().open()
            finally:
                self.connect_kwargs.pop("sock", None)
        check_revoked(self.client, self.settings.known_hosts, self.key_name)
        # paramiko's transport thread wakes every 0.1 s while idle (its socket timeout) to
        # see whether it was closed; a closed or lost connection wakes it anyway. 1000
        # hosts made that 10,000 wake-ups a second: the same 1000-host run took 76.5 s
        # (40 s of it system time) with it, 39.9 s (8.8 s) with a 2 s timeout.
        self.transport.sock.settimeout(IDLE_WAKEUP)
        return opened

    def create_session(self) -> paramiko.Channel:
        # Fabric's own waits for a channel as long as paramiko's default (an hour)
        channel: paramiko.Channel = self.transport.open_session(
            timeout=self.settings.connect_timeout)
        return channel


def _open(settings: ConnectionSettings) -> _HostConnection:
    """The host's connection through its hops, each opened and checked in turn."""
    for path in settings.key_files:
        if problem := key_file_problem(path):
            raise UnreachableError(problem)
    gateway: fabric.Connection | str | None = settings.proxy_command
    hops: list[_HostConnection] = []
    try:
        for hop in settings.jumps:
            hops.append(_HostConnection(settings, hop, gateway))
            hops[-1].open()
            gateway = hops[-1]
        connection = _HostConnection(settings, settings.endpoint, gateway)
        connection.open()
    except BaseException as error:
        for opened in reversed(hops):
            opened.close()
        raise _unreachable(error, settings) from None
    return connection


def _unreachable(error: BaseException, settings: ConnectionSettings) -> BaseException:
    target = f"{settings.endpoint.user}@{settings.endpoint.address}:{settings.endpoint.port}"
    if isinstance(error, UnreachableError):
        return error
    if isinstance(error, paramiko.BadHostKeyException):
        name = error.hostname  # paramiko's known_hosts name: `[address]:port` off port 22
        return UnreachableError(
            f"HOST KEY CHANGED for {name}: it offers {error.key.get_name()} "
            f"{error.key.fingerprint}, {settings.known_hosts} expects "
            f"{error.expected_key.fingerprint}. This may be an attack, or the host was "
            "reinstalled; once you have checked, remove the old key with `ssh-keygen -R "
            f"{name} -f {settings.known_hosts}`")
    if isinstance(error, paramiko.AuthenticationException):
        return UnreachableError(f"authentication failed as {target}: {error}")
    if isinstance(error, (OSError, paramiko.SSHException, EOFError)):
        return UnreachableError(f"cannot connect to {target}: "
                                f"{error or type(error).__name__}")
    if isinstance(error, Exception):
        # anything else paramiko raises while connecting still only stops this host
        return UnreachableError(f"cannot connect to {target}: {type(error).__name__}: "
                                f"{error}")
    return error


class SSHConnection(Connection):
    def __init__(self, settings: ConnectionSettings) -> None:
        self.host = settings.host
        self.settings = settings
        self.commands_run = 0
        self.fabric = _open(settings)

    def run(self, argv: Sequence[str], *, stdin: bytes | None = None,
            timeout: float | None = None, become: bool = False,
            become_user: str | None = None) -> CommandResult:
        password = self.settings.become_password if become else None
        line = command_line(argv, become, password is not None, become_user)
        timeout = timeout if timeout is not None else self.settings.command_timeout
        self._count_command()

        def call() -> Result | None:
            if password is None:
                result: Result | None = self.fabric.run(line, in_stream=Feed(stdin or b""),
                                                        timeout=timeout)
                return result
            return sudo(self.fabric, argv, password, stdin, timeout, become_user)

        try:
            return command_result(
                line, timeout, f"sudo refused the become password for "
                f"{self.settings.endpoint.user}", call, on_no_status=self._lost_if_closed)
        except (Failure, ThreadException, paramiko.SSHException, EOFError, OSError) as error:
            raise UnreachableError(f"connection lost: {_reason(error)}") from None

    def _lost_if_closed(self) -> None:
        if not self.fabric.is_connected:
            # the channel closed without an exit status because the whole connection went
            # (sshd killed, host gone): not a failed command, an unreachable host
            raise UnreachableError("connection lost: the SSH session ended mid-command")

    def close(self) -> None:
        connection: Any = getattr(self, "fabric", None)
        while isinstance(connection, fabric.Connection):
            connection.close()
            connection = connection.gateway


def _reason(error: BaseException) -> str:
    if isinstance(error, ThreadException) and error.exceptions:
        inner = error.exceptions[0].value
        return f"{inner or type(inner).__name__}"
    return f"{error or type(error).__name__}"
