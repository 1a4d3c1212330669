"""SSH connections over one paramiko transport per host, several channels at once.

The socket gets TCP_NODELAY: without it every command round trip stalls ~40 ms
on Nagle plus delayed ACK (measured here: 60 commands over 3 hosts, 1.2 s -> 0.36 s).
Host keys are checked against known_hosts: unknown keys only pass under
`accept-new` (and are then recorded); a changed key never passes.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import paramiko

from engine.connection.base import CommandResult, Connection, UnreachableError, command_line
from engine.connection.settings import ConnectionSettings, Endpoint

_known_hosts_lock = threading.Lock()  # accept-new appends to one shared file
# path -> ((mtime_ns, size), parsed): each file is parsed once per version and run, not
# once per connection (50 SSHClients each holding all 50 hosts' keys cost ~14 MB here)
_parsed_known_hosts: dict[str, tuple[tuple[int, int], paramiko.HostKeys]] = {}


def _known_keys(known_hosts: str, key_name: str) -> dict[str, paramiko.PKey]:
    """The keys a known_hosts file lists for one host name, by key type."""
    with _known_hosts_lock:
        try:
            status = os.stat(known_hosts)
        except OSError:
            return {}
        version = (status.st_mtime_ns, status.st_size)
        cached = _parsed_known_hosts.get(known_hosts)
        if cached is None or cached[0] != version:
            cached = (version, paramiko.HostKeys(known_hosts))
            _parsed_known_hosts[known_hosts] = cached
    entry = cached[1].lookup(key_name)
    return dict(entry) if entry is not None else {}


def _key_name(endpoint: Endpoint) -> str:
    return endpoint.address if endpoint.port == 22 else f"[{endpoint.address}]:{endpoint.port}"


class _AcceptNew(paramiko.MissingHostKeyPolicy):
    """Record an unknown host's key (like OpenSSH's StrictHostKeyChecking=accept-new)."""

    def __init__(self, known_hosts: str) -> None:
        self.known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        line = f"{hostname} {key.get_name()} {key.get_base64()}\n"
        with _known_hosts_lock:
            path = Path(self.known_hosts)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as known:
                known.write(line)


class _RefuseUnknown(paramiko.MissingHostKeyPolicy):
    def __init__(self, known_hosts: str) -> None:
        self.known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        raise UnreachableError(
            f"host key of {hostname} is not in {self.known_hosts}; check its fingerprint "
            f"({key.get_name()} {key.fingerprint}) and add it with `ssh-keyscan "
            f"{_scan_args(hostname)} >> {self.known_hosts}`, or set host_key_policy: "
            "accept-new for this host to record it on first contact")


def _scan_args(key_name: str) -> str:
    if key_name.startswith("["):
        address, _, port = key_name[1:].partition("]:")
        return f"-p {port} {address}"
    return key_name


def _tcp_socket(endpoint: Endpoint, timeout: float) -> socket.socket:
    sock = socket.create_connection((endpoint.address, endpoint.port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _client(settings: ConnectionSettings, endpoint: Endpoint, sock: Any) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    key_name = _key_name(endpoint)
    for key_type, key in _known_keys(settings.known_hosts, key_name).items():
        client.get_host_keys().add(key_name, key_type, key)
    policy: paramiko.MissingHostKeyPolicy = (
        _AcceptNew(settings.known_hosts) if settings.host_key_policy == "accept-new"
        else _RefuseUnknown(settings.known_hosts))
    client.set_missing_host_key_policy(policy)
    try:
        # paramiko accepts a list of key files; its stubs say str only
        key_files: Any = list(settings.key_files) or None
        client.connect(endpoint.address, endpoint.port, username=endpoint.user,
                       key_filename=key_files, sock=sock,
                       timeout=settings.connect_timeout, banner_timeout=settings.connect_timeout,
                       auth_timeout=settings.connect_timeout,
                       allow_agent=not settings.key_files, look_for_keys=not settings.key_files)
    except paramiko.BadHostKeyException as error:
        client.close()
        raise UnreachableError(
            f"HOST KEY CHANGED for {_key_name(endpoint)}: it offers {error.key.get_name()} "
            f"{error.key.fingerprint}, {settings.known_hosts} expects "
            f"{error.expected_key.fingerprint}. This may be an attack, or the host was "
            "reinstalled; once you have checked, remove the old key with `ssh-keygen -R "
            f"{_key_name(endpoint)} -f {settings.known_hosts}`") from None
    except UnreachableError:
        client.close()
        raise
    except paramiko.AuthenticationException as error:
        client.close()
        raise UnreachableError(f"authentication failed as {endpoint.user}@{endpoint.address}: "
                               f"{error}") from None
    except (OSError, paramiko.SSHException, EOFError) as error:
        client.close()
        raise UnreachableError(f"cannot connect to {endpoint.address}:{endpoint.port}: "
                               f"{error or type(error).__name__}") from None
    return client


class SSHConnection(Connection):
    def __init__(self, settings: ConnectionSettings) -> None:
        self.host = settings.host
        self.settings = settings
        self.commands_run = 0
        self._gateway: paramiko.SSHClient | None = None
        try:
            sock: Any
            if settings.gateway is not None:
                self._gateway = _client(settings, settings.gateway,
                                        _tcp_socket(settings.gateway, settings.connect_timeout))
                gateway_transport = self._gateway.get_transport()
                assert gateway_transport is not None
                target = settings.endpoint
                sock = gateway_transport.open_channel(
                    "direct-tcpip", (target.address, target.port), ("127.0.0.1", 0),
                    timeout=settings.connect_timeout)
            else:
                sock = _tcp_socket(settings.endpoint, settings.connect_timeout)
        except OSError as error:
            self.close()
            raise UnreachableError(f"cannot connect to {settings.endpoint.address}:"
                                   f"{settings.endpoint.port}: {error}") from None
        except paramiko.SSHException as error:
            self.close()
            raise UnreachableError(f"gateway cannot reach {settings.endpoint.address}: "
                                   f"{error}") from None
        self._client = _client(settings, settings.endpoint, sock)
        transport = self._client.get_transport()
        assert transport is not None
        transport.set_keepalive(15)
        self._transport = transport

    def run(self, argv: Sequence[str], *, stdin: bytes | None = None,
            timeout: float | None = None, become: bool = False) -> CommandResult:
        password = self.settings.become_password
        line = command_line(argv, become, password is not None)
        if become and password is not None:
            stdin = password.encode() + b"\n" + (stdin or b"")
        timeout = timeout if timeout is not None else self.settings.command_timeout
        self._count_command()
        started = time.monotonic()
        try:
            channel = self._transport.open_session(timeout=self.settings.connect_timeout)
        except (paramiko.SSHException, EOFError, OSError) as error:
            raise UnreachableError(f"connection lost: {error}") from None
        try:
            channel.exec_command(line)
            if stdin:
                channel.sendall(stdin)
            channel.shutdown_write()
            stdout, stderr, status = _collect(channel, started + timeout if timeout else None)
        except (paramiko.SSHException, EOFError, OSError) as error:
            raise UnreachableError(f"connection lost: {error}") from None
        finally:
            channel.close()
        if status is None:
            return CommandResult(line, -1, stdout, f"{stderr}timed out after {timeout} s",
                                 time.monotonic() - started)
        if status == -1 and not self._transport.is_active():
            # the channel closed without an exit status because the whole connection went
            # (sshd killed, host gone): not a failed command, an unreachable host
            raise UnreachableError("connection lost: the SSH session ended mid-command")
        return CommandResult(line, status, stdout, stderr, time.monotonic() - started)

    def close(self) -> None:
        for client in (getattr(self, "_client", None), self._gateway):
            if client is not None:
                client.close()


def _collect(channel: paramiko.Channel, deadline: float | None) -> tuple[str, str, int | None]:
    """Read stdout and stderr together (reading one while the other fills would stall the
    channel's window) until EOF, then wait for the exit status, all within the deadline."""
    out: list[bytes] = []
    err: list[bytes] = []

    def drain() -> None:
        while channel.recv_ready():
            out.append(channel.recv(65536))
        while channel.recv_stderr_ready():
            err.append(channel.recv_stderr(65536))

    while True:
        drain()
        if channel.eof_received or channel.closed:
            drain()
            break
        wait = 1.0 if deadline is None else deadline - time.monotonic()
        if wait <= 0:
            return _text(out), _text(err), None
        # the channel's pipe becomes readable on data (either stream) and on EOF
        select.select([channel], [], [], min(wait, 1.0))
    remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
    if not channel.status_event.wait(remaining):
        return _text(out), _text(err), None
    return _text(out), _text(err), channel.recv_exit_status()


def _text(chunks: list[bytes]) -> str:
    return b"".join(chunks).decode("utf-8", "replace")
