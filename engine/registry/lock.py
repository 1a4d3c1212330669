"""The deploy lock's parts shared by both backends: the owner record, the stale-owner
test and the wait-and-retry loop. Backends supply one `attempt` that tries all hosts once.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime

from engine.registry.model import HeldLock, LockBusy, LockOwner, LockWaitInterrupted, boot_id

# A process that started this much later than the lock's start time is not its owner
# (the pid was reused).
PID_REUSE_SLACK = 5.0


@dataclass(frozen=True)
class LockRecord:
    """What a lock holds: the owner, plus a random token that tells two owners of one
    process (threads, or a retried request) apart. The token is not a secret."""

    owner: LockOwner
    token: str

    @classmethod
    def new(cls, owner: LockOwner) -> LockRecord:
        return cls(owner, secrets.token_hex(16))  # not uuid4: `import uuid` costs 4 ms

    def to_json(self) -> str:
        return json.dumps({**asdict(self.owner), "token": self.token}, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> LockRecord:
        """A record of this version or an older one. Older records held the whole command
        line (`command`, with `-e` values): only its first word is read back, so a busy
        message never repeats what a value may have held."""
        try:
            record = json.loads(text)
            if not isinstance(record, dict):
                raise TypeError("not a JSON object")
            options = record.get("options", [])
            if not isinstance(options, list):
                raise TypeError("options is not a list")
            is_current = "options" in record or "playbook" in record
            command = str(record.get("command", "play")) if is_current else "play"
            owner = LockOwner(str(record["user"]), int(record["pid"]),
                              str(record["control_host"]), str(record["started_at"]),
                              command, str(record.get("playbook", "")),
                              tuple(str(option) for option in options),
                              str(record.get("boot_id", "")))
            return cls(owner, str(record.get("token", "")))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"unreadable lock owner ({error})") from None


def describe_holder(text: str) -> str:
    """Never quotes an unreadable record: it may be anything a broken run wrote there."""
    try:
        return LockRecord.from_json(text).owner.describe()
    except ValueError:
        return "an unknown owner (its owner record cannot be read)"


def is_stale(owner: LockOwner) -> bool:
    """The owner is a run on this machine that is gone: the machine rebooted since (its
    boot id changed), or the process exited (or its pid now belongs to a younger one).
    Owners on other control hosts are never stale here: we cannot see their processes (the
    etcd backend's lease covers that case; on the file backend a person removes the lock)."""
    if owner.control_host != socket.gethostname():
        return False
    if owner.boot_id and owner.boot_id != boot_id():
        return True  # pids restart with every boot
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists, as another user
    started = _process_start(owner.pid)
    try:
        locked = datetime.fromisoformat(owner.started_at).timestamp()
    except ValueError:
        return False
    return started is not None and started > locked + PID_REUSE_SLACK


def _process_start(pid: int) -> float | None:
    """Epoch seconds the process started, from /proc; None where /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rpartition(")")[2].split()
        with open("/proc/stat", encoding="ascii") as system:
            boot = next(float(line.split()[1]) for line in system if line.startswith("btime"))
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def wait_for_lock(attempt: Callable[[], HeldLock | str], timeout: float,
                  on_wait: Callable[[str], None],
                  stop: threading.Event | None = None) -> HeldLock:
    """Call `attempt` (a held lock, or a message naming the holder) until it wins or
    `timeout` passes; `on_wait` hears the first busy message once. A set `stop` (the
    run's signal handler) ends the wait: Ctrl-C must not sit out --lock-timeout."""
    deadline = time.monotonic() + max(timeout, 0.0)
    delay = 0.1
    has_waited = False
    interrupted = stop or threading.Event()
    while True:
        outcome = attempt()
        if not isinstance(outcome, str):
            return outcome
        if interrupted.is_set():
            raise LockWaitInterrupted(f"{outcome}; interrupted while waiting for it")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LockBusy(f"{outcome}; gave up after waiting {timeout:g} s")
        if not has_waited:
            on_wait(f"waiting for the {outcome}")
            has_waited = True
        # jitter keeps several waiters from retrying in lockstep
        if interrupted.wait(min(remaining, delay * random.uniform(0.5, 1.5))):
            raise LockWaitInterrupted(f"{outcome}; interrupted while waiting for it")
        delay = min(delay * 1.5, 2.0)
