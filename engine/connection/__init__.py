"""The connection stage: reach a host and run quoted commands on it."""

from __future__ import annotations

from engine.connection.base import (
    CommandResult,
    Connection,
    command_line,
    command_line_size_problem,
)
from engine.connection.local import LocalConnection
from engine.connection.settings import ConnectionSettings, settings_for
from engine.errors import UnreachableError


def open_connection(settings: ConnectionSettings) -> Connection:
    """Open the host's one connection for this run; raises `UnreachableError`."""
    if settings.connection == "local":
        return LocalConnection(settings.host, settings.become_password)
    from engine.connection.ssh import SSHConnection

    return SSHConnection(settings)


__all__ = ["CommandResult", "Connection", "ConnectionSettings", "UnreachableError",
           "command_line", "command_line_size_problem", "open_connection", "settings_for"]
