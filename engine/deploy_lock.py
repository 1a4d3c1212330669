"""The deploy lock held through a run: taken before the first step, watched while the
run goes on (an etcd lease not renewed in time, or revoked, stops it), released at the
end. engine/registry/lock.py is the lock itself, in both backends.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from engine.registry.model import LockOwner, Registry, RegistryError

LOCK_WATCH_INTERVAL = 0.25  # s between looks at the lock's lease: a loss stops the run soon


@dataclass
class LockWatch:
    """Why the run's deploy lock stopped being its own, once that happened."""

    lost: str | None = None


@contextmanager
def hold_deploy_lock(registry: Registry, hosts: Sequence[str], owner: LockOwner,
                     timeout: float, warn: Callable[[str], None], stop: threading.Event,
                     watch: LockWatch) -> Iterator[None]:
    """Hold the deploy lock of these hosts throughout. A lock lost mid-run sets `stop`:
    another run may hold the hosts now, so nothing new starts; steps in flight finish."""
    held = registry.lock(hosts, owner, timeout, warn, stop)
    done = threading.Event()

    def watch_lock() -> None:
        while not done.wait(LOCK_WATCH_INTERVAL):
            lost = held.lost()
            if lost:
                watch.lost = lost
                warn(f"the deploy lock was lost: {lost}; no new step starts, the steps in "
                     "flight finish")
                stop.set()
                return

    watcher = threading.Thread(target=watch_lock, name="play-lock-watch", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        if watch.lost is None and held.lost():
            watch.lost = held.lost()
            warn(f"the deploy lock was lost during the run: {watch.lost}")
        if watch.lost is None:
            held.release()
        else:
            # what is left of it expires by itself; etcd may be the reason it was lost
            with contextlib.suppress(RegistryError):
                held.release()
