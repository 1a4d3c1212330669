"""How to reach one host: inventory connection vars over `~/.ssh/config` (read through
Fabric's own config loading) over the defaults, checked before anything runs (a bad
policy name, timeout, jump host or key file is exit 4, not a failed host).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import InputError

if TYPE_CHECKING:
    import fabric

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
    jumps: tuple[Endpoint, ...]     # ProxyJump hops, in the order they are visited
    proxy_command: str | None       # ProxyCommand of ~/.ssh/config (when no jump host)
    connect_timeout: float
    command_timeout: float | None
    become: bool
    become_password: str | None
    # Ansible's ansible_password / ansible_ssh_pass, or -k's prompt: offered after the keys
    ssh_password: str | None = dataclasses.field(default=None, repr=False)
    become_user: str | None = None


@functools.cache
def fabric_config(ssh_config_path: str | None) -> fabric.Config:
    """Fabric's configuration, ~/.ssh/config (and /etc/ssh/ssh_config) loaded once per run.
    PLAY_SSH_CONFIG names the one file to read instead (as `ssh -F`)."""
    import fabric  # ~60 ms and 10 MB (invoke, paramiko): only runs with SSH hosts pay it

    if ssh_config_path is not None and not os.path.exists(ssh_config_path):
        return fabric.Config(lazy=True)  # no file, no SSH config (Fabric would raise)
    return fabric.Config(runtime_ssh_path=ssh_config_path)


def ssh_config_of(address: str) -> dict[str, Any]:
    """What the SSH config files say for an address (Fabric's lookup, paramiko's parser)."""
    path = os.environ.get("PLAY_SSH_CONFIG")
    config = fabric_config(str(Path(path).expanduser()) if path else None)
    return dict(config.base_ssh_config.lookup(address))


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


def parse_endpoint(text: str, default_user: str, host: Host) -> Endpoint:
    """`user@address:port` with user and port optional (one jump host)."""
    user, _, rest = text.strip().rpartition("@")
    address, _, port = rest.partition(":")
    if not address or (port and not (port.isascii() and port.isdigit())) or " " in address:
        raise InputError(f"host {host.name!r}: a jump host must look like "
                         f"'user@address:port' (user and port optional; several separated "
                         f"by commas, visited in order), not {text!r}", host.source)
    return Endpoint(address, int(port or 22), user or default_user)


def parse_jumps(text: str, default_user: str, host: Host) -> tuple[Endpoint, ...]:
    """`a,b`: visit a, then b from a, then the host from b (as OpenSSH's ProxyJump)."""
    if text.strip().lower() == "none":
        return ()
    return tuple(parse_endpoint(hop, default_user, host) for hop in text.split(","))


def key_file_problem(path: str) -> str | None:
    """OpenSSH refuses a private key that others can read; so does play."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None  # a missing key is the connection's error, with its own message
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return (f"private key {path} is readable by others (mode "
                f"{stat.S_IMODE(mode):04o}); OpenSSH refuses such keys, and so does play: "
                f"chmod 600 {path}")
    return None


def settings_for(host: Host) -> ConnectionSettings:
    """Inventory vars win over the -o options of ansible_ssh_*_args, which win over
    ~/.ssh/config (as ssh's own -o does), which wins over the defaults."""
    config = {**ssh_config_of(host.address), **host.ssh_options} if host.connection == "ssh" \
        else {}
    policy = str(host.vars.get("host_key_policy", config.get("host_key_policy", "strict")))
    if policy not in HOST_KEY_POLICIES:
        raise InputError(f"host {host.name!r}: host_key_policy must be one of "
                         f"{', '.join(HOST_KEY_POLICIES)}, not {policy!r}", host.source)
    user = host.user or config.get("user") or os.environ.get("USER", "root")
    address = config.get("hostname", host.address) if host.address == host.name else host.address
    port = host.port if host.is_port_set else int(config.get("port", host.port))
    keys = (host.ssh_key,) if host.ssh_key else tuple(config.get("identityfile", ()))
    key_files = tuple(str(Path(key).expanduser()) for key in keys)
    if host.ssh_key and (problem := key_file_problem(key_files[0])):
        raise InputError(f"host {host.name!r}: {problem}", host.source)
    known_hosts = str(host.vars.get("known_hosts") or (config.get("userknownhostsfile") or
                                                       DEFAULT_KNOWN_HOSTS).split()[0])
    jump_text = host.ssh_gateway or config.get("proxyjump")
    return ConnectionSettings(
        host=host.name,
        connection=host.connection,
        endpoint=Endpoint(address, port, user),
        key_files=key_files,
        known_hosts=str(Path(known_hosts).expanduser()),
        host_key_policy=policy,
        jumps=parse_jumps(jump_text, user, host) if jump_text else (),
        proxy_command=None if jump_text else config.get("proxycommand"),
        connect_timeout=_number(host, "connect_timeout", 10.0) or 10.0,
        command_timeout=_number(host, "command_timeout", None),
        become=host.become,
        become_password=host.become_password,
        become_user=host.become_user,
        ssh_password=host.ssh_password,
    )

