"""The user's `registry:` mapping (play or inventory var), checked once at load time.

Mistakes are `InputError`s with the mapping's location, so they stop the run before
anything touches a host (exit status 4).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from engine.errors import InputError, Location, did_you_mean
from engine.names import check_name
from engine.registry.model import RegistryError

BACKENDS = ("file", "etcd")
FILE_KEYS = ("backend", "host", "root", "become", "grace", "owner")
ETCD_KEYS = ("backend", "endpoints", "prefix", "ttl", "grace", "owner", "user",
             "password_file", "password_env", "ca_file", "cert_file", "key_file")
_GRACE_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)\s*$")
_GRACE_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class RegistryConfig:
    backend: str = "file"           # "file" | "etcd"
    host: str | None = None         # file: inventory host holding the records; None = here
    root: str = "/var/lib/play/registry"
    become: bool = False            # file: run the registry commands with sudo
    endpoints: tuple[str, ...] = ("http://127.0.0.1:2379",)
    prefix: str = "/play"
    ttl: int = 0                    # etcd: lease TTL in seconds for records (0 = no lease)
    # how long the records of an unreachable host stay: converges in a row, or seconds
    grace_converges: int = 2
    grace_seconds: float = 0.0
    # whose records a run may change: "" = the inventory's project (`default_owner`)
    owner: str = ""
    # etcd authentication: the password is read from a file or an environment variable
    # when the registry opens, never written in a playbook or inventory
    user: str = ""
    password_file: str = ""
    password_env: str = ""
    # etcd TLS (https endpoints): the CA that signed etcd's certificate (default: the
    # system's), and a client certificate and key for etcd's --client-cert-auth
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""


def registry_config(raw: Mapping[str, Any] | None, where: Location) -> RegistryConfig:
    if raw is None:
        return RegistryConfig()
    if not isinstance(raw, Mapping):
        raise InputError(f"registry must be a mapping (backend: file or etcd, ...), "
                         f"not {raw!r}", where)
    backend = raw.get("backend", "file")
    if backend not in BACKENDS:
        raise InputError(f"registry backend must be one of {', '.join(BACKENDS)}, not "
                         f"{backend!r}{did_you_mean(str(backend), BACKENDS)}", where)
    grace_converges, grace_seconds = _grace(raw.get("grace", 2), where)
    if backend == "etcd" and "password" in raw:
        raise InputError("registry password cannot be written in a playbook or inventory: "
                         "set password_file (a file only you can read) or password_env (an "
                         "environment variable's name)", where)
    allowed = FILE_KEYS if backend == "file" else ETCD_KEYS
    for key in raw:
        if key not in allowed:
            other = ETCD_KEYS if backend == "file" else FILE_KEYS
            hint = (f"; {key!r} belongs to the {'etcd' if backend == 'file' else 'file'} "
                    f"backend, and this registry uses backend {backend}" if key in other
                    else did_you_mean(str(key), allowed))
            raise InputError(f"unknown registry setting {key!r}{hint}", where)
    owner = _owner(raw.get("owner", ""), where)
    if backend == "file":
        return RegistryConfig(backend="file", host=_host(raw.get("host"), where),
                              root=_root(raw.get("root", RegistryConfig.root), where),
                              become=_flag(raw.get("become", False), where),
                              grace_converges=grace_converges, grace_seconds=grace_seconds,
                              owner=owner)
    endpoints = _endpoints(raw.get("endpoints"), where)
    config = RegistryConfig(backend="etcd", endpoints=endpoints,
                            prefix=_prefix(raw.get("prefix", RegistryConfig.prefix), where),
                            ttl=_ttl(raw.get("ttl", 0), where),
                            grace_converges=grace_converges, grace_seconds=grace_seconds,
                            owner=owner)
    return dataclasses.replace(config, **_etcd_auth(raw, where),
                               **_etcd_tls(raw, endpoints, where))


def _owner(value: Any, where: Location) -> str:
    if value == "":
        return ""
    try:
        if value == "(unowned)":  # engine/registry/cache.py's mark of an owner-less record
            raise ValueError("owner name '(unowned)' is reserved")
        return check_name("owner", value)
    except ValueError as error:
        raise InputError(f"registry owner: {error} (a team or project id, like web-team)",
                         where) from None


def _etcd_auth(raw: Mapping[str, Any], where: Location) -> dict[str, Any]:
    """`user` with exactly one of `password_file` and `password_env`; checked here so a
    missing password is exit 4 before anything runs."""
    user = raw.get("user", "")
    sources = [key for key in ("password_file", "password_env") if raw.get(key)]
    if not user and not sources:
        return {}
    if not isinstance(user, str) or not user or len(sources) != 1:
        raise InputError("registry etcd authentication needs user and exactly one of "
                         "password_file and password_env", where)
    if sources == ["password_file"]:
        path = _file(raw["password_file"], "password_file", where)
        return {"user": user, "password_file": path}
    name = raw["password_env"]
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise InputError(f"registry password_env must name an environment variable, not "
                         f"{name!r}", where)
    if not os.environ.get(name):
        raise InputError(f"registry password_env: the environment variable {name} is not "
                         "set (it holds the etcd password of user " f"{user!r})", where)
    return {"user": user, "password_env": name}


def _etcd_tls(raw: Mapping[str, Any], endpoints: Sequence[str], where: Location,
              ) -> dict[str, Any]:
    files = {key: _file(raw[key], key, where) for key in ("ca_file", "cert_file", "key_file")
             if raw.get(key) is not None}
    if ("cert_file" in files) != ("key_file" in files):
        raise InputError("registry cert_file and key_file go together (a client "
                         "certificate and its key)", where)
    plain = [endpoint for endpoint in endpoints if not endpoint.startswith("https://")]
    if files and plain:
        raise InputError(f"registry ca_file, cert_file and key_file need https endpoints, "
                         f"and {plain[0]} is not one", where)
    return files


def _file(value: Any, key: str, where: Location) -> str:
    """A readable file on the control node, named by an absolute or ~/ path."""
    if not isinstance(value, str) or not value.startswith(("/", "~/")) or "\0" in value:
        raise InputError(f"registry {key} must be an absolute file path, not {value!r}", where)
    path = os.path.expanduser(value)
    if not os.access(path, os.R_OK) or not os.path.isfile(path):
        raise InputError(f"registry {key}: cannot read {path}", where)
    return path


# Folder names that say "the inventory of the project above" (Ansible's and play's layout)
INVENTORY_FOLDERS = ("inventory", "inventories")


def default_owner(inventory_sources: Sequence[str]) -> str:
    """Whose records a run may change when `registry: {owner: ...}` is not set: the
    project's name, as docker compose names a project after its folder: the folder of the
    (first) inventory, or the one above it when that folder is `inventory/`."""

    if not inventory_sources:
        return "play"
    source = Path(inventory_sources[0]).resolve()
    folder = source if source.is_dir() else source.parent
    if folder.name in INVENTORY_FOLDERS:
        folder = folder.parent
    try:
        return _owner(folder.name, Location(str(source)))
    except InputError:
        return "play"  # the root folder, or a name no record could carry


def owner_of(config: RegistryConfig, inventory_sources: Sequence[str]) -> str:
    return config.owner or default_owner(inventory_sources)


def read_password(config: RegistryConfig) -> str:
    """The etcd password, read when the registry opens; `RegistryError` if it is gone."""

    if config.password_env:
        password = os.environ.get(config.password_env, "")
        where = f"environment variable {config.password_env}"
    else:
        try:
            with open(config.password_file, encoding="utf-8") as source:
                password = source.read().rstrip("\r\n")
        except OSError as error:
            raise RegistryError(f"cannot read the etcd password file {config.password_file}: "
                                f"{error.strerror}") from None
        where = f"password file {config.password_file}"
    if not password:
        raise RegistryError(f"the etcd password of user {config.user!r} is empty ({where})")
    return password


def _host(value: Any, where: Location) -> str | None:
    if value is None or (isinstance(value, str) and value):
        return value
    raise InputError(f"registry host must be an inventory host name, not {value!r}", where)


def _root(value: Any, where: Location) -> str:
    if not isinstance(value, str) or not value.startswith(("/", "~/")) or "\0" in value:
        raise InputError(f"registry root must be an absolute directory path, not {value!r}",
                         where)
    return value.rstrip("/") or "/"


def _flag(value: Any, where: Location) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"registry become must be true or false, not {value!r}", where)
    return value


def _endpoints(value: Any, where: Location) -> tuple[str, ...]:
    if value is None:
        return RegistryConfig.endpoints
    endpoints = [value] if isinstance(value, str) else value
    if not isinstance(endpoints, list) or not endpoints:
        raise InputError("registry endpoints must be a URL or a list of URLs like "
                         f"http://10.0.0.5:2379, not {value!r}", where)
    for endpoint in endpoints:
        try:
            parts = urlsplit(endpoint) if isinstance(endpoint, str) else None
            is_ok = (parts is not None and parts.scheme in ("http", "https")
                     and bool(parts.hostname) and parts.port is not None
                     and parts.path in ("", "/"))
        except ValueError:  # a port that is not a number
            is_ok = False
        if not is_ok:
            raise InputError(f"registry endpoint {endpoint!r} must look like "
                             "http://HOST:PORT or https://HOST:PORT", where)
    return tuple(endpoints)


def _prefix(value: Any, where: Location) -> str:
    # ASCII only: key ranges are computed byte-wise from the prefix
    if not isinstance(value, str) or not value.startswith("/") or not value.isascii() \
            or not value.isprintable() or "//" in value:
        raise InputError(f"registry prefix must be an ASCII key prefix starting with '/', "
                         f"like /play, not {value!r}", where)
    return value.rstrip("/")


def _grace(value: Any, where: Location) -> tuple[int, float]:
    """`grace: 2` (converges in a row) or `grace: 10m` (a duration) -> (converges, seconds);
    exactly one of them is non-zero."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value, 0.0
    match = _GRACE_DURATION.match(value) if isinstance(value, str) else None
    if match:
        return 0, float(match.group(1)) * _GRACE_UNITS[match.group(2)]
    raise InputError(f"registry grace must be a number of converges (at least 1) or a "
                     f"duration such as 90s or 10m, not {value!r}", where)


def _ttl(value: Any, where: Location) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"registry ttl must be a whole number of seconds (0 = records "
                         f"never expire), not {value!r}", where)
    return value


def hosts_registry(hosts_vars: Mapping[str, Mapping[str, Any]], where: Location,
                   ) -> RegistryConfig:
    """The `registry` inventory var of these hosts (usually set once in group_vars/all),
    else the default file registry. Hosts that name different registries are an error:
    one deploy writes to one registry."""
    configs = {name: registry_config(vars_.get("registry"), where)
               for name, vars_ in hosts_vars.items()}
    distinct = set(configs.values())
    if len(distinct) > 1:
        first, *others = sorted(configs, key=lambda name: repr(configs[name]))
        other = next(name for name in others if configs[name] != configs[first])
        raise InputError(f"hosts {first!r} and {other!r} name different registries in the "
                         "inventory; set `registry` once for all of them (group_vars/all), "
                         "or in the play", where)
    return distinct.pop() if distinct else RegistryConfig()


@dataclass(frozen=True)
class PlayRegistry:
    """What decides one play's registry: its own `registry:` and the hosts it targets."""

    raw: Mapping[str, Any] | None
    where: Location
    hosts: Sequence[str]


def resolve_registries(plays: Sequence[PlayRegistry],
                       host_vars: Mapping[str, Mapping[str, Any]], where: Location,
                       ) -> tuple[list[RegistryConfig], RegistryConfig]:
    """Each play's registry (its own `registry:`, else its hosts'), and the registry of all
    the run's hosts, which holds the deploy lock."""
    def of_hosts(hosts: Sequence[str], at: Location) -> RegistryConfig:
        return hosts_registry({name: host_vars[name] for name in hosts}, at)

    configs = [registry_config(play.raw, play.where) if play.raw else
               of_hosts(play.hosts, play.where) for play in plays]
    default = of_hosts(sorted({host for play in plays for host in play.hosts}), where)
    for config in (*configs, default):
        if config.host is not None and config.host not in host_vars:
            raise InputError(f"registry host {config.host!r} is not in the inventory"
                             f"{did_you_mean(config.host, host_vars)}", where)
    return configs, default
