"""The etcd backend, through etcd's v3 JSON gateway (`/v3/`, etcd >= 3.4) with etcd3gw.

Records are keys `<prefix>/<service>/<instance>`; deploy locks are keys
`<prefix>/.locks/<host>` on a lease that a thread renews while the lock is held, so a
run that dies frees its locks within the lease TTL.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import etcd3gw
from etcd3gw.exceptions import ConnectionFailedError, ConnectionTimeoutError, Etcd3Exception

from engine.names import check_name
from engine.registry.lock import LockRecord, describe_holder, wait_for_lock
from engine.registry.model import (
    HeldLock,
    Instance,
    LockOwner,
    RegistryError,
    Scan,
    checked,
)

T = TypeVar("T")
LOCK_TTL = 15          # seconds a dead run keeps its hosts locked
REQUEST_TIMEOUT = 5.0  # per HTTP request, so an unreachable endpoint fails fast


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _reason(error: Etcd3Exception) -> str:
    """The useful part of etcd3gw's error: etcd's own message, or the socket error."""
    detail = error.detail_text or str(error) or type(error).__name__
    try:
        return str(json.loads(detail).get("error", detail))
    except (ValueError, AttributeError):
        tls = re.search(r"\[SSL: [A-Z_]+\] ([^('\")]+)", detail)
        if tls:  # requests reports a TLS failure as a connection error
            return f"TLS: {tls.group(1).strip()}"
        found = re.search(r"\[Errno -?\d+\] ([^'\")]+)", detail)
        return found.group(1) if found else detail[:200]


@dataclass(frozen=True)
class EtcdAccess:
    """How to reach and log in to etcd: user and password (etcd's auth), and TLS files.
    The password lives here only, never in a message (`__repr__` leaves it out)."""

    user: str = ""
    password: str = field(default="", repr=False)
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""


class EtcdRegistry:
    def __init__(self, endpoints: Sequence[str], prefix: str, ttl: int = 0, *,
                 lock_ttl: int = LOCK_TTL, access: EtcdAccess = EtcdAccess()) -> None:
        self.endpoints = tuple(endpoints)
        self.prefix = prefix
        self.ttl = ttl
        self.lock_ttl = lock_ttl
        self.access = access
        self.where = f"etcd registry {', '.join(self.endpoints)} (prefix {prefix or '/'})"
        self._clients = [etcd3gw.client(host=parts.hostname or "", port=parts.port or 2379,
                                        protocol=parts.scheme, api_path="/v3/",
                                        timeout=REQUEST_TIMEOUT,
                                        ca_cert=access.ca_file or None,
                                        cert_cert=access.cert_file or None,
                                        cert_key=access.key_file or None)
                         for parts in map(urlsplit, self.endpoints)]
        self._has_token = [False] * len(self._clients)
        self._current = 0
        self._mutex = threading.Lock()  # one request at a time: requests.Session is shared
        self._record_lease: LeaseKeeper | None = None
        self._lease_mutex = threading.Lock()  # one record lease, even under parallel steps

    def call(self, what: str, request: Callable[[etcd3gw.Etcd3Client], T]) -> T:
        """Send one request to the first endpoint that answers, starting with the last
        one that did (logged in first, when the registry has a user)."""
        failures = []
        with self._mutex:
            for offset in range(len(self._clients)):
                index = (self._current + offset) % len(self._clients)
                try:
                    answer = self._send(index, request)
                except (ConnectionFailedError, ConnectionTimeoutError) as error:
                    failures.append(f"{self.endpoints[index]}: {_reason(error)}")
                    continue
                except Etcd3Exception as error:
                    reason = _reason(error)
                    if "user name is empty" in reason:  # etcd has auth enabled, we no user
                        reason += ("; this etcd asks for a login: set registry user and "
                                   "password_file or password_env")
                    raise RegistryError(f"{self.where}: cannot {what}: {reason}") from None
                self._current = index
                return answer
        raise RegistryError(f"{self.where}: cannot {what}: no endpoint answers "
                            f"({'; '.join(failures)}); check that etcd runs there and "
                            "that registry endpoints are right")

    def _send(self, index: int, request: Callable[[etcd3gw.Etcd3Client], T]) -> T:
        client = self._clients[index]
        if self.access.user and not self._has_token[index]:
            self._authenticate(index)
        try:
            return request(client)
        except Etcd3Exception as error:
            # simple tokens expire (etcd's --auth-token-ttl, 5 min): log in again, once
            if not self.access.user or "invalid auth token" not in _reason(error):
                raise
            self._authenticate(index)
            return request(client)

    def _authenticate(self, index: int) -> None:
        """etcd's v3 login: the token goes in the `Authorization` header of every request
        on this endpoint's session."""
        client = self._clients[index]
        client.session.headers.pop("Authorization", None)
        try:
            answer = client.post(client.get_url("/auth/authenticate"),
                                 json={"name": self.access.user,
                                       "password": self.access.password})
        except (ConnectionFailedError, ConnectionTimeoutError):
            raise  # the next endpoint may answer
        except Etcd3Exception as error:
            raise Etcd3Exception(json.dumps({"error": f"cannot log in as user "
                                             f"{self.access.user!r}: {_reason(error)}"}),
                                 "authentication failed") from None
        client.session.headers["Authorization"] = str(answer.get("token", ""))
        self._has_token[index] = True

    def _key(self, *segments: str) -> bytes:
        return "/".join((self.prefix, *segments)).encode()

    def register(self, instance: Instance) -> None:
        key = self._key(instance.service, instance.instance)
        value = instance.to_json().encode()
        lease = self._lease_for_records()
        what = f"write {key.decode()}"
        self.call(what, lambda client: client.put(
            key, value, etcd3gw.Lease(lease, client) if lease else None))

    def _lease_for_records(self) -> int | None:
        """With `ttl`, records ride on one lease per run, kept alive while the run lasts:
        they vanish `ttl` seconds after the last run that registered them ended."""
        if not self.ttl:
            return None
        with self._lease_mutex:
            keeper = self._record_lease
            if keeper is None or keeper.lost() is not None:
                keeper = self._record_lease = LeaseKeeper(self, self.ttl)
            return keeper.lease_id

    def deregister(self, service: str, instance: str) -> None:
        key = self._key(check_name("service", service), check_name("instance", instance))
        self.call(f"remove {key.decode()}",
                  lambda client: client.post(client.get_url("/kv/deleterange"),
                                             json={"key": _b64(key)}))

    def scan(self, service: str | None = None) -> Scan:
        start = self._key(check_name("service", service), "") if service else self._key("")
        # the range end is the prefix with its last byte ('/') incremented
        end = start[:-1] + bytes([start[-1] + 1])
        answer = self.call(f"list {start.decode()}", lambda client: client.post(
            client.get_url("/kv/range"), json={"key": _b64(start), "range_end": _b64(end)}))
        instances: list[Instance] = []
        problems: list[str] = []
        for kv in answer.get("kvs", []):
            key = base64.b64decode(kv["key"]).decode("utf-8", "replace")
            segments = key[len(self.prefix) + 1:].split("/")
            if segments[0].startswith("."):
                continue  # locks and other entries of play's own
            try:
                if len(segments) != 2:
                    raise ValueError("not a <prefix>/<service>/<instance> key")
                record = Instance.from_json(base64.b64decode(kv.get("value", "")).decode())
                if [record.service, record.instance] != segments:
                    raise ValueError(f"holds {record.service}/{record.instance}, which does "
                                     "not match its key")
            except (ValueError, UnicodeDecodeError) as error:
                problems.append(f"{key}: {error}")
                continue
            instances.append(record)
        instances.sort(key=lambda record: (record.service, record.instance))
        return Scan(instances, problems)

    def instances(self, service: str | None = None) -> list[Instance]:
        return checked(self.scan(service), self.where)

    def lock(self, hosts: Sequence[str], owner: LockOwner, timeout: float,
             on_wait: Callable[[str], None], stop: threading.Event | None = None
             ) -> HeldLock:
        keys = [self._key(".locks", check_name("host", host)) for host in sorted(set(hosts))]
        record = LockRecord.new(owner)
        keeper = LeaseKeeper(self, self.lock_ttl)
        try:
            return wait_for_lock(lambda: self._attempt(keys, record, keeper), timeout, on_wait,
                                 stop)
        except BaseException:
            with contextlib.suppress(RegistryError):  # unrevoked, it expires by itself
                keeper.stop(revoke=True)
            raise

    def _attempt(self, keys: list[bytes], record: LockRecord,
                 keeper: LeaseKeeper) -> HeldLock | str:
        """One transaction: every host's key is created on our lease only if none exists;
        otherwise the current holders are read back."""
        value = _b64(record.to_json().encode())
        txn = {"compare": [{"key": _b64(key), "result": "EQUAL", "target": "CREATE",
                            "create_revision": 0} for key in keys],
               "success": [{"request_put": {"key": _b64(key), "value": value,
                                            "lease": keeper.lease_id}} for key in keys],
               "failure": [{"request_range": {"key": _b64(key)}} for key in keys]}
        answer: dict[str, Any] = dict(self.call(
            "take the deploy lock", lambda client: client.transaction(txn)))
        if answer.get("succeeded"):
            return EtcdLock(keeper)
        for key, response in zip(keys, answer.get("responses", []), strict=False):
            for kv in response.get("response_range", {}).get("kvs", []):
                holder = base64.b64decode(kv.get("value", "")).decode("utf-8", "replace")
                try:
                    if LockRecord.from_json(holder).token == record.token:
                        return EtcdLock(keeper)  # a retried request that had gone through
                except ValueError:
                    pass
                host = key.decode().rpartition("/")[2]
                return f"deploy lock on {host} held by {describe_holder(holder)}"
        return "deploy lock busy (it was released meanwhile)"

    def close(self) -> None:
        if self._record_lease is not None:
            self._record_lease.stop(revoke=False)


class LeaseKeeper:
    """A lease and the daemon thread that renews it every TTL/3 until stopped."""

    def __init__(self, registry: EtcdRegistry, ttl: int) -> None:
        self.registry = registry
        answer = registry.call("grant a lease", lambda client: client.post(
            client.get_url("/lease/grant"), json={"TTL": ttl, "ID": 0}))
        self.lease_id = int(answer["ID"])
        self.ttl = ttl
        self._lost: str | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._renew, name=f"etcd-lease-{self.lease_id}",
                                        daemon=True)
        self._thread.start()

    def lost(self) -> str | None:
        return self._lost

    def _renew(self) -> None:
        renewed = time.monotonic()
        while not self._stopped.wait(self.ttl / 3):
            try:
                left = self.registry.call("renew the lease", lambda client: etcd3gw.Lease(
                    self.lease_id, client).refresh())
            except RegistryError as error:
                if time.monotonic() - renewed < self.ttl:
                    continue  # the lease outlives a short outage
                left, reason = -1, str(error)
            else:
                reason = "etcd says the lease expired"
            if left <= 0:
                self._lost = f"{self.registry.where}: lease {self.lease_id} lost: {reason}"
                return
            renewed = time.monotonic()

    def stop(self, *, revoke: bool) -> None:
        self._stopped.set()
        if revoke:
            self.registry.call("release the deploy lock", lambda client: etcd3gw.Lease(
                self.lease_id, client).revoke())


class EtcdLock:
    def __init__(self, keeper: LeaseKeeper) -> None:
        self.keeper = keeper
        self.is_released = False

    def lost(self) -> str | None:
        return self.keeper.lost()

    def release(self) -> None:
        """Revoking the lease deletes every lock key on it, and only ours are."""
        if not self.is_released:
            self.is_released = True
            try:
                self.keeper.stop(revoke=True)
            except RegistryError as error:
                raise RegistryError(f"{error}; the lock frees itself within "
                                    f"{self.keeper.ttl} s") from None
