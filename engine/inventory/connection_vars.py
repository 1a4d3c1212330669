"""Read a host's connection settings from its merged variables, validating each one.

Each setting has a short name and its Ansible aliases (`address` / `ansible_host` /
`ansible_ssh_host`), in one table; when several are set the first in the table wins,
whatever layer each came from. The `-o` options of `ansible_ssh_common_args` and
`ansible_ssh_extra_args` that play reads become a layer of SSH config above
`~/.ssh/config`; the connection stage (engine/connection/settings.py) resolves them.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.errors import InputError, Location
from engine.inventory.draft import Origin, Vars

# The short name, then Ansible's spellings, the old `ansible_ssh_*` ones last (as Ansible
# reads `ansible_host` before `ansible_ssh_host`).
ALIASES: dict[str, tuple[str, ...]] = {
    "address": ("ansible_host", "ansible_ssh_host"),
    "port": ("ansible_port", "ansible_ssh_port"),
    "user": ("ansible_user", "ansible_ssh_user"),
    "ssh_key": ("ansible_ssh_private_key_file", "ansible_private_key_file"),
    "connection": ("ansible_connection",),
    "become": ("ansible_become",),
    "become_user": ("ansible_become_user",),
    "become_password": ("ansible_become_password", "ansible_become_pass"),
    "ssh_password": ("ansible_password", "ansible_ssh_pass", "ansible_ssh_password"),
}
SSH_ARGS_VARIABLES = ("ansible_ssh_common_args", "ansible_ssh_extra_args")
# The `-o` options play reads, by OpenSSH's lower-case name; each one is what
# engine/connection/settings.py already reads from ~/.ssh/config.
SSH_OPTIONS = ("userknownhostsfile", "identityfile", "port", "proxyjump", "proxycommand",
               "user", "stricthostkeychecking")
Warn = Callable[[str, Location], None]
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
    become_user: str | None = None
    ssh_password: str | None = None   # password login (a secret, as in Ansible)
    # -o options of ansible_ssh_common_args / ansible_ssh_extra_args, by lower-case name
    ssh_options: Mapping[str, Any] = field(default_factory=dict)


def read_connection_vars(host: str, merged: Vars,
                         warn: Warn = lambda message, where: None) -> ConnectionVars:
    password = _lookup(merged, "become_password")
    login_password = _lookup(merged, "ssh_password")
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
        become_user=_text(host, merged, "become_user"),
        ssh_password=None if login_password is None else str(login_password[0]),
        ssh_options=_ssh_options(host, merged, warn),
    )


def _ssh_options(host: str, merged: Vars, warn: Warn) -> dict[str, Any]:
    """The `-o Key=Value` options play reads from Ansible's SSH argument variables; a later
    variable's option wins (extra args come after common args on Ansible's ssh line)."""
    options: dict[str, Any] = {}
    for variable in SSH_ARGS_VARIABLES:
        if merged.values.get(variable) is None:
            continue
        origin = merged.origins[variable]
        for name, value in _parsed_ssh_args(host, variable, merged.values[variable], origin,
                                            warn):
            options[name] = [value] if name == "identityfile" else value
    return options


def _parsed_ssh_args(host: str, variable: str, text: Any, origin: Origin,
                     warn: Warn) -> list[tuple[str, str]]:
    try:
        tokens = shlex.split(str(text))
    except ValueError as error:
        raise InputError(f"host {host!r}: {variable} cannot be split into arguments: "
                         f"{error}", origin.where) from None
    found: list[tuple[str, str]] = []
    pending = iter(tokens)
    for token in pending:
        if token == "-o":
            option = next(pending, "")
        elif token.startswith("-o"):
            option = token[2:]
        else:
            warn(f"host {host!r}: {variable}: {token!r} is not read by play (only -o "
                 f"options: {', '.join(_OPTION_SPELLINGS)})", origin.where)
            continue
        # `Key=Value`, `Key Value` (as ssh's -o reads them)
        match = re.fullmatch(r"([A-Za-z]*)(?:\s*=\s*|\s+)?(.*)", option.strip(), re.S)
        name, value = match.groups() if match else (option, "")
        found.extend(_option(host, variable, name, value, origin, warn))
    return found


_OPTION_SPELLINGS = ("UserKnownHostsFile", "IdentityFile", "Port", "ProxyJump", "ProxyCommand",
                     "User", "StrictHostKeyChecking=accept-new|yes")


def _option(host: str, variable: str, name: str, value: str, origin: Origin,
            warn: Warn) -> list[tuple[str, str]]:
    key = name.lower()
    if key not in SSH_OPTIONS:
        warn(f"host {host!r}: {variable}: the SSH option {name} is not read by play; it "
             f"reads {', '.join(_OPTION_SPELLINGS)}", origin.where)
        return []
    if not value:
        raise InputError(f"host {host!r}: {variable}: -o {name} needs a value, as in "
                         f"-o {name}=VALUE", origin.where)
    if key == "stricthostkeychecking":
        policy = {"yes": "strict", "accept-new": "accept-new"}.get(value.lower())
        if policy is None:
            raise InputError(f"host {host!r}: {variable}: StrictHostKeyChecking={value} would "
                             "accept any host key, so play refuses it; to trust a new host's "
                             "key on first contact set `host_key_policy: accept-new` "
                             "(a changed key still stops the host)", origin.where)
        return [("host_key_policy", policy)]
    if key == "port" and not (re.fullmatch(r"[0-9]{1,5}", value) and 1 <= int(value) <= 65535):
        raise InputError(f"host {host!r}: {variable}: -o Port={value} is not a TCP port; use a "
                         "number from 1 to 65535", origin.where)
    if key in ("identityfile", "userknownhostsfile"):
        expanded = os.path.expanduser(value)
        value = expanded if os.path.isabs(expanded) else str(origin.base_dir / expanded)
    return [(key, value)]


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
