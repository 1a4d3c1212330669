"""The user's `registry:` mapping (play or inventory var), checked once at load time.

Mistakes are `InputError`s with the mapping's location, so they stop the run before
anything touches a host (exit status 4).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from engine.errors import InputError, Location, did_you_mean

BACKENDS = ("file", "etcd")
FILE_KEYS = ("backend", "host", "root", "become", "grace")
ETCD_KEYS = ("backend", "endpoints", "prefix", "ttl", "grace")
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
    allowed = FILE_KEYS if backend == "file" else ETCD_KEYS
    for key in raw:
        if key not in allowed:
            other = ETCD_KEYS if backend == "file" else FILE_KEYS
            hint = (f"; {key!r} belongs to the {'etcd' if backend == 'file' else 'file'} "
                    f"backend, and this registry uses backend {backend}" if key in other
                    else did_you_mean(str(key), allowed))
            raise InputError(f"unknown registry setting {key!r}{hint}", where)
    if backend == "file":
        return RegistryConfig(backend="file", host=_host(raw.get("host"), where),
                              root=_root(raw.get("root", RegistryConfig.root), where),
                              become=_flag(raw.get("become", False), where),
                              grace_converges=grace_converges, grace_seconds=grace_seconds)
    return RegistryConfig(backend="etcd", endpoints=_endpoints(raw.get("endpoints"), where),
                          prefix=_prefix(raw.get("prefix", RegistryConfig.prefix), where),
                          ttl=_ttl(raw.get("ttl", 0), where),
                          grace_converges=grace_converges, grace_seconds=grace_seconds)


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
