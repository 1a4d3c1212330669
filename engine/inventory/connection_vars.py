"""Read a host's connection settings from its merged variables, validating each one.

Each setting has a short name and its Ansible aliases (`address` / `ansible_host`), in
one table; when both are set the short name wins, whatever layer either came from. The
connection stage (engine/connection/settings.py) resolves these against the SSH config.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from engine.errors import InputError
from engine.inventory.draft import Origin, Vars

ALIASES: dict[str, tuple[str, ...]] = {
    "address": ("ansible_host",),
    "port": ("ansible_port",),
    "user": ("ansible_user",),
    "ssh_key": ("ansible_ssh_private_key_file",),
    "connection": ("ansible_connection",),
    "become": ("ansible_become",),
    "become_password": ("ansible_become_password", "ansible_become_pass"),
}
# Ansible's "smart" and "paramiko" are both SSH; play's SSH goes through Paramiko too.
_CONNECTIONS = {"ssh": "ssh", "smart": "ssh", "paramiko": "ssh", "local": "local"}
_TRUE = {"yes", "on", "true", "1", "y"}
_FALSE = {"no", "off", "false", "0", "n"}


@dataclass(frozen=True)
class ConnectionVars:
    """What the inventory says about reaching a host (before the SSH config)."""

    address: str
    port: int
    is_port_set: bool               # the inventory named a port: it wins over the SSH config
    user: str | None
    ssh_key: str | None
    connection: str
    become: bool
    become_password: str | None
    ssh_gateway: str | None


def read_connection_vars(host: str, merged: Vars) -> ConnectionVars:
    password = _lookup(merged, "become_password")
    return ConnectionVars(
        address=_text(host, merged, "address") or host,
        port=_port(host, merged),
        is_port_set=_lookup(merged, "port") is not None,
        user=_text(host, merged, "user"),
        ssh_key=_ssh_key(host, merged),
        connection=_connection(host, merged),
        become=_become(host, merged),
        become_password=None if password is None else str(password[0]),
        ssh_gateway=_text(host, merged, "ssh_gateway"),
    )


def _lookup(merged: Vars, name: str) -> tuple[Any, Origin] | None:
    for key in (name, *ALIASES.get(name, ())):
        if merged.values.get(key) is not None:
            return merged.values[key], merged.origins[key]
    return None


def _text(host: str, merged: Vars, name: str) -> str | None:
    found = _lookup(merged, name)
    return None if found is None else _as_text(host, name, *found)


def _as_text(host: str, name: str, value: Any, origin: Origin) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise InputError(f"host {host!r}: {name} must be a non-empty string, got {value!r}",
                         origin.where)
    return str(value)


def _port(host: str, merged: Vars) -> int:
    found = _lookup(merged, "port")
    if found is None:
        return 22
    value, origin = found
    # ASCII digits only: str.isdigit() accepts '²', which int() refuses
    is_number_text = isinstance(value, str) and re.fullmatch(r"\s*[0-9]{1,5}\s*", value)
    number = int(value) if is_number_text else value
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 65535:
        raise InputError(f"host {host!r}: port {value!r} is not a TCP port; use a number "
                         "from 1 to 65535", origin.where)
    return number


def _ssh_key(host: str, merged: Vars) -> str | None:
    found = _lookup(merged, "ssh_key")
    if found is None:
        return None
    expanded = os.path.expanduser(_as_text(host, "ssh_key", *found))
    return expanded if os.path.isabs(expanded) else str(found[1].base_dir / expanded)


def _connection(host: str, merged: Vars) -> str:
    found = _lookup(merged, "connection")
    if found is None:
        return "ssh"
    value, origin = found
    if not isinstance(value, str) or value not in _CONNECTIONS:
        raise InputError(f"host {host!r}: connection {value!r} is not supported; "
                         "use 'ssh' or 'local'", origin.where)
    return _CONNECTIONS[value]


def _become(host: str, merged: Vars) -> bool:
    found = _lookup(merged, "become")
    if found is None:
        return False
    value, origin = found
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, (str, int)) else None
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise InputError(f"host {host!r}: become must be true or false (yes/no), got {value!r}",
                     origin.where)
