"""How to reach one host: inventory connection vars over `~/.ssh/config`, checked
before anything runs (a bad policy name or timeout is exit 4, not a failed host).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import InputError

if TYPE_CHECKING:
    from engine.inventory import Host

HOST_KEY_POLICIES = ("strict", "accept-new")
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"


@dataclass(frozen=True)
class Endpoint:
    address: str
    port: int
    user: str


@dataclass(frozen=True)
class ConnectionSettings:
    host: str
    connection: str                 # "ssh" | "local"
    endpoint: Endpoint
    key_files: tuple[str, ...]
    known_hosts: str
    host_key_policy: str
    gateway: Endpoint | None
    connect_timeout: float
    command_timeout: float | None
    become: bool
    become_password: str | None


def _number(host: Host, name: str, default: float | None) -> float | None:
    value: Any = host.vars.get(name, default)
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if number <= 0:
        raise InputError(f"host {host.name!r}: {name} must be a positive number of seconds, "
                         f"not {value!r}", host.source)
    return number


def _ssh_config(address: str) -> dict[str, Any]:
    import paramiko

    path = Path(os.environ.get("PLAY_SSH_CONFIG", "~/.ssh/config")).expanduser()
    if not path.is_file():
        return {}
    return dict(paramiko.SSHConfig.from_path(str(path)).lookup(address))


def parse_endpoint(text: str, default_user: str, host: Host) -> Endpoint:
    """`user@address:port` with user and port optional (an `ssh_gateway` value)."""
    user, _, rest = text.rpartition("@")
    address, _, port = rest.partition(":")
    if not address or (port and not (port.isascii() and port.isdigit())):
        raise InputError(f"host {host.name!r}: ssh_gateway must look like "
                         f"'user@address:port' (user and port optional), not {text!r}",
                         host.source)
    return Endpoint(address, int(port or 22), user or default_user)


def settings_for(host: Host) -> ConnectionSettings:
    """Inventory vars win over ~/.ssh/config, which wins over the defaults."""
    config = _ssh_config(host.address) if host.connection == "ssh" else {}
    policy = str(host.vars.get("host_key_policy", "strict"))
    if policy not in HOST_KEY_POLICIES:
        raise InputError(f"host {host.name!r}: host_key_policy must be one of "
                         f"{', '.join(HOST_KEY_POLICIES)}, not {policy!r}", host.source)
    user = host.user or config.get("user") or os.environ.get("USER", "root")
    address = config.get("hostname", host.address) if host.address == host.name else host.address
    port = host.port if "port" in host.vars or "ansible_port" in host.vars else int(
        config.get("port", host.port))
    keys = (host.ssh_key,) if host.ssh_key else tuple(config.get("identityfile", ()))
    known_hosts = str(host.vars.get("known_hosts") or (config.get("userknownhostsfile") or
                                                       DEFAULT_KNOWN_HOSTS).split()[0])
    gateway_text = host.ssh_gateway or config.get("proxyjump")
    password = host.vars.get("become_password", host.vars.get("ansible_become_password"))
    return ConnectionSettings(
        host=host.name,
        connection=host.connection,
        endpoint=Endpoint(address, port, user),
        key_files=tuple(str(Path(key).expanduser()) for key in keys),
        known_hosts=str(Path(known_hosts).expanduser()),
        host_key_policy=policy,
        gateway=parse_endpoint(gateway_text, user, host) if gateway_text else None,
        connect_timeout=_number(host, "connect_timeout", 10.0) or 10.0,
        command_timeout=_number(host, "command_timeout", None),
        become=host.become,
        become_password=None if password is None else str(password),
    )
