"""What the registry stores and promises: instance records, lock owners, the backend
protocol and its errors. Plain data, no I/O; the backends live beside this module.
"""

from __future__ import annotations

import getpass
import ipaddress
import json
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from engine.names import check_name


class RegistryError(Exception):
    """The backend is unreachable or refused an operation; the message says which backend,
    where, and what failed."""


class LockBusy(RegistryError):
    """Another run holds the deploy lock on one of our hosts (exit status 5)."""


class LockWaitInterrupted(LockBusy):
    """SIGINT / SIGTERM came while waiting for a busy deploy lock (exit status 130)."""


# Bounds on what a record may carry, checked when one is made and when one is read: a
# record is read by every consumer's template (`services()`), so a forged or broken one
# must not bring a URL where an address goes, or megabytes where a tag goes. Generous:
# tags and meta are the user's own free text (any character, JSON keeps it verbatim).
MAX_ITEMS = 1024            # tags, and meta keys
MAX_TEXT = 16384            # characters of one tag or meta value
MAX_HOST_NAME = 253         # a DNS name (RFC 1035)
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def check_address(address: object) -> str:
    """An IPv4 or IPv6 address, or a host name: labels of letters, digits, `-` and `_`
    (common in /etc/hosts and SSH aliases) separated by dots. Nothing else may reach a
    consumer's `server {{ address }}:{{ port }};`."""
    if isinstance(address, str) and address:
        try:
            ipaddress.ip_address(address)
            return address
        except ValueError:
            labels = address.removesuffix(".").split(".")
            if len(address) <= MAX_HOST_NAME and all(_HOST_LABEL.fullmatch(label)
                                                     for label in labels):
                return address
    raise ValueError(f"address must be an IP address or a host name, not {address!r}"[:200])


def _check_texts(kind: str, values: Sequence[object]) -> None:
    if len(values) > MAX_ITEMS:
        raise ValueError(f"{kind} may hold at most {MAX_ITEMS} entries, not {len(values)}")
    for value in values:
        if not isinstance(value, str):
            raise ValueError(f"{kind} must hold strings, not {value!r}"[:200])
        if len(value) > MAX_TEXT:
            raise ValueError(f"{kind} entries may be at most {MAX_TEXT} characters long: "
                             f"{value[:40]!r}...")


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass(frozen=True)
class Instance:
    """One registered service instance. Holds no secrets, though records are private
    (0600 on the file backend): any consumer's template may render it."""

    service: str
    instance: str
    host: str
    address: str
    port: int
    tags: tuple[str, ...]
    meta: Mapping[str, str] = field(hash=False)
    container: str
    image_id: str
    registered_at: str  # ISO 8601 UTC, e.g. 2024-05-01T12:00:00Z
    # converges in a row that found its host unreachable, and since when (the sweep's
    # grace period); 0 and "" for a host that answered
    missed: int = 0
    missing_since: str = ""
    # who wrote it: the registry `owner` of the inventory that deployed it ("" in records
    # of play versions before owners); a run never changes or removes another's records
    owner: str = ""

    def __post_init__(self) -> None:
        for kind in ("service", "instance", "host"):
            check_name(kind, getattr(self, kind))
        if self.owner:
            check_name("owner", self.owner)
        check_address(self.address)
        if isinstance(self.port, bool) or not isinstance(self.port, int) \
                or not 0 < self.port < 65536:
            raise ValueError(f"port must be a number from 1 to 65535, not {self.port!r}")
        # a read-only copy: a caller's dict changing later must not change the record
        object.__setattr__(self, "tags", tuple(self.tags))
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))
        _check_texts("tags", self.tags)
        _check_texts("meta keys", list(self.meta))
        _check_texts("meta values", list(self.meta.values()))

    def to_json(self) -> str:
        record = {"service": self.service, "instance": self.instance, "host": self.host,
                  "address": self.address, "port": self.port, "tags": list(self.tags),
                  "meta": dict(self.meta), "container": self.container,
                  "image_id": self.image_id, "registered_at": self.registered_at}
        if self.missed:
            record.update(missed=self.missed, missing_since=self.missing_since)
        if self.owner:
            record["owner"] = self.owner
        return json.dumps(record, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Instance:
        """Parse a record; a broken one raises ValueError saying what is wrong. Unknown
        keys are ignored, so a newer play can add fields without breaking older readers."""
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"not valid JSON ({error})") from None
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        strings = ("service", "instance", "host", "address", "container", "image_id",
                   "registered_at")
        missing = [key for key in (*strings, "port", "tags", "meta") if key not in record]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        for key in strings:
            _expect(isinstance(record[key], str), key, "a string", record[key])
        tags, meta = record["tags"], record["meta"]
        _expect(isinstance(tags, list) and all(isinstance(t, str) for t in tags),
                "tags", "a list of strings", tags)
        _expect(isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values()),
                "meta", "an object of strings", meta)
        missed, since = record.get("missed", 0), record.get("missing_since", "")
        _expect(isinstance(missed, int) and not isinstance(missed, bool) and missed >= 0,
                "missed", "a count", missed)
        _expect(isinstance(since, str), "missing_since", "a string", since)
        owner = record.get("owner", "")
        _expect(isinstance(owner, str), "owner", "a string", owner)
        return cls(**{key: record[key] for key in strings}, port=record["port"],
                   tags=tuple(tags), meta=meta, missed=missed, missing_since=since,
                   owner=owner)


def _expect(is_ok: bool, key: str, what: str, value: Any) -> None:
    if not is_ok:
        raise ValueError(f"{key} must be {what}, not {value!r}"[:200])


BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"


def boot_id() -> str:
    """This machine's boot id: a pid means the same process only within one boot."""
    try:
        with open(BOOT_ID_FILE, encoding="ascii") as boot:
            return boot.read().strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class LockOwner:
    """Who holds a deploy lock: enough for a person to find the run, and no secrets: the
    playbook and the names of the options given, never their values (an `-e` value may be
    a password)."""

    user: str
    pid: int
    control_host: str
    started_at: str  # ISO 8601 UTC
    command: str = "play"                   # "play", "play registry check"
    playbook: str = ""
    options: tuple[str, ...] = ()           # names only: ("-i", "-e", "--lock-timeout")
    boot_id: str = ""                       # of the control host, when the lock was taken

    @classmethod
    def current(cls, command: str = "play", playbook: str = "",
                options: Sequence[str] = ()) -> LockOwner:
        return cls(getpass.getuser(), os.getpid(), socket.gethostname(), utc_now(), command,
                   playbook, tuple(options), boot_id())

    def describe(self) -> str:
        run = " ".join(filter(None, (self.command, self.playbook)))
        if self.options:
            run += f", options {' '.join(self.options)}"
        return f"{self.user} pid {self.pid} on {self.control_host} since {self.started_at} ({run})"


@dataclass(frozen=True)
class Scan:
    """A listing: the good records, and one line per record that could not be read."""

    instances: list[Instance]
    problems: list[str]


class HeldLock(Protocol):
    def lost(self) -> str | None:
        """Why the lock stopped being ours while held (etcd lease expired), or None."""

    def release(self) -> None:
        """Give the lock up; a second call does nothing."""


class Registry(Protocol):
    def register(self, instance: Instance) -> None: ...
    def deregister(self, service: str, instance: str) -> None: ...
    def scan(self, service: str | None = None) -> Scan: ...
    def instances(self, service: str | None = None) -> list[Instance]: ...
    def lock(self, hosts: Sequence[str], owner: LockOwner, timeout: float,
             on_wait: Callable[[str], None], stop: threading.Event | None = None
             ) -> HeldLock: ...
    def close(self) -> None: ...


def checked(scan: Scan, where: str) -> list[Instance]:
    """`instances()` for every backend: broken records stop the caller instead of
    silently shrinking a load balancer's upstream list."""
    if scan.problems:
        raise RegistryError(f"{where}: {len(scan.problems)} broken record(s): "
                            + "; ".join(scan.problems))
    return scan.instances


def serving(instances: Iterable[Instance]) -> list[dict[str, Any]]:
    """What `services('name')` gives a template: the records of the instances that serve,
    as plain dicts. A record kept for its grace (its host did not answer the last
    converge, `missed`) is left out, as consul-template leaves out a failing node's
    instances: nobody could check that it is healthy, its replica is being placed
    elsewhere, and a load balancer would spend a connect timeout on each request it sent
    there. The record stays in the registry (`play registry ls`) until the grace ends."""
    return [json.loads(instance.to_json()) for instance in instances if not instance.missed]

