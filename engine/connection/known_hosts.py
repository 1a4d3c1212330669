"""Host keys: known_hosts read as OpenSSH reads it, and the two policies for a host whose
key is not there (strict: refuse; accept-new: record it, as OpenSSH's
StrictHostKeyChecking=accept-new). A changed key never passes; a key listed `@revoked`
never passes; `@cert-authority` lines are refused with a clear message (paramiko cannot
check host certificates), never skipped silently and never a hang.
"""

from __future__ import annotations

import fnmatch
import hmac
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import paramiko
from paramiko.hostkeys import HostKeyEntry

from engine.errors import UnreachableError

_lock = threading.Lock()  # accept-new appends to one shared file; the cache is shared


@dataclass
class KnownHosts:
    """One known_hosts file: its plain entries (as paramiko's HostKeys, which matches plain
    and hashed names), the keys it revokes and the patterns it trusts a CA for."""

    keys: paramiko.HostKeys = field(default_factory=paramiko.HostKeys)
    revoked: list[tuple[int, paramiko.PKey]] = field(default_factory=list)
    authorities: list[tuple[int, str]] = field(default_factory=list)


# path -> ((mtime_ns, size), parsed): 50 SSHClients each parsing the whole file cost ~14 MB
_parsed: dict[str, tuple[tuple[int, int], KnownHosts]] = {}


def _parse(path: str) -> KnownHosts:
    known = KnownHosts()
    entries: list[HostKeyEntry] = []
    with open(path, encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            marker = ""
            if text.startswith("@"):
                marker, _, text = text.partition(" ")
                text = text.strip()
            if marker == "@cert-authority":
                known.authorities += [(number, name) for name in text.split()[0].split(",")]
                continue
            try:
                entry = HostKeyEntry.from_line(text, number)
            except (paramiko.SSHException, ValueError, TypeError):
                continue  # a key type paramiko does not know: OpenSSH skips it too
            if entry is None or entry.key is None:
                continue
            if marker == "@revoked":
                known.revoked.append((number, entry.key))
            elif not marker:
                entries.append(entry)
    # paramiko's HostKeys.load would read the marker lines as host names; it is given
    # the plain entries only (its `add` cannot take hashed names)
    known.keys._entries = entries  # type: ignore[attr-defined]
    return known


def read_known_hosts(path: str) -> KnownHosts:
    with _lock:
        try:
            status = os.stat(path)
        except OSError:
            return KnownHosts()
        version = (status.st_mtime_ns, status.st_size)
        cached = _parsed.get(path)
        if cached is None or cached[0] != version:
            cached = (version, _parse(path))
            _parsed[path] = cached
        return cached[1]


def key_name(address: str, port: int) -> str:
    return address if port == 22 else f"[{address}]:{port}"


def _name_matches(pattern: str, name: str) -> bool:
    if pattern.startswith("|1|"):
        probe = paramiko.HostKeys()
        return hmac.compare_digest(probe.hash_host(name, pattern), pattern)
    return fnmatch.fnmatchcase(name, pattern)


def trust(client: paramiko.SSHClient, path: str, name: str, policy: str) -> None:
    """Give a client the keys known_hosts lists for one host name (nobody else's) and the
    policy for a key it does not list."""
    known = read_known_hosts(path)
    for number, pattern in known.authorities:
        if _name_matches(pattern.lstrip("!"), name) and not pattern.startswith("!"):
            raise UnreachableError(
                f"{path}:{number} trusts a certificate authority for {name} "
                "(@cert-authority): play cannot check host certificates; list the host's "
                f"own key instead (`ssh-keyscan {_scan_args(name)}`)")
    for key_type, key in dict(known.keys.lookup(name) or {}).items():
        client.get_host_keys().add(name, key_type, key)
    client.set_missing_host_key_policy(
        AcceptNew(path, known.revoked) if policy == "accept-new" else _RefuseUnknown(path))


def check_revoked(client: paramiko.SSHClient, path: str, name: str) -> None:
    """After the handshake: a known key that known_hosts also revokes stops the host."""
    transport = client.get_transport()
    offered = transport.get_remote_server_key() if transport is not None else None
    if offered is None:
        return
    for number, key in read_known_hosts(path).revoked:
        if key == offered:
            raise UnreachableError(_revoked_message(name, offered, path, number))


def _revoked_message(name: str, key: paramiko.PKey, path: str, number: int) -> str:
    return (f"host key of {name} ({key.get_name()} {key.fingerprint}) is REVOKED in "
            f"{path}:{number}: play will not connect to it")


def _scan_args(name: str) -> str:
    if name.startswith("["):
        address, _, port = name[1:].partition("]:")
        return f"-p {port} {address}"
    return name


class _RefuseUnknown(paramiko.MissingHostKeyPolicy):
    def __init__(self, known_hosts: str) -> None:
        self.known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        raise UnreachableError(
            f"host key of {hostname} is not in {self.known_hosts}; check its fingerprint "
            f"({key.get_name()} {key.fingerprint}) and add it with `ssh-keyscan "
            f"{_scan_args(hostname)} >> {self.known_hosts}`, or set host_key_policy: "
            "accept-new for this host to record it on first contact")


class AcceptNew(paramiko.MissingHostKeyPolicy):
    """Record an unknown host's key (like OpenSSH's StrictHostKeyChecking=accept-new)."""

    def __init__(self, known_hosts: str, revoked: list[tuple[int, paramiko.PKey]]) -> None:
        self.known_hosts = known_hosts
        self.revoked = revoked

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        for number, revoked in self.revoked:
            if revoked == key:
                raise UnreachableError(_revoked_message(hostname, key, self.known_hosts, number))
        line = f"{hostname} {key.get_name()} {key.get_base64()}\n"
        with _lock:
            path = Path(self.known_hosts)
            # as OpenSSH: ~/.ssh is the user's alone
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            with os.fdopen(descriptor, "a", encoding="utf-8") as known:
                known.write(line)
