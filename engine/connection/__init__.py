"""The connection stage: reach a host and run quoted commands on it."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

from engine.connection.base import (
    CommandResult,
    Connection,
    UnreachableError,
    command_line,
    command_line_size_problem,
)
from engine.connection.settings import ConnectionSettings, settings_for


class _InvokeOnFirstUse(types.ModuleType):
    """Stands in for invoke until something reads from it, then imports the real one."""

    def __getattr__(self, name: str) -> Any:
        if sys.modules.get("invoke") is self:
            del sys.modules["invoke"]
        return getattr(importlib.import_module("invoke"), name)


def _defer_invoke() -> None:
    """paramiko.config imports invoke whenever it is installed (fabric installs it), only to
    run `Match exec` lines of ~/.ssh/config; the import pulls unittest.mock and asyncio:
    ~50 ms and 7 MB on every run. A stand-in makes paramiko's `import invoke` free and
    imports invoke when a `Match exec` needs it. (The standard library's LazyLoader does
    not help here: a second `import` of a lazy module loads it.)"""
    if "invoke" not in sys.modules and importlib.util.find_spec("invoke") is not None:
        sys.modules["invoke"] = _InvokeOnFirstUse("invoke")


_defer_invoke()  # before settings.py or ssh.py first imports paramiko


def open_connection(settings: ConnectionSettings) -> Connection:
    """Open the host's one connection for this run; raises `UnreachableError`."""
    if settings.connection == "local":
        from engine.connection.local import LocalConnection

        return LocalConnection(settings.host, settings.become_password)
    from engine.connection.ssh import SSHConnection

    return SSHConnection(settings)


__all__ = ["CommandResult", "Connection", "ConnectionSettings", "UnreachableError",
           "command_line", "command_line_size_problem", "open_connection", "settings_for"]
