"""Run one command and measure it: wall time and the peak resident memory of its
whole process tree, children and daemonized grandchildren included.

While it measures, the bench is a child subreaper, so what a tool daemonizes (ansible's
and the ControlMaster floor's persistent ssh masters) stays in our tree instead of moving
to init: it is counted, and it is stopped by its PID once the run is over. Only while
it measures: the lab's own daemons, started between runs, must go to init.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
# A sweep of /proc costs a few ms; 50 ms keeps the sampler under ~10% of one core.
SAMPLE_INTERVAL = 0.05


@dataclass(frozen=True)
class Sample:
    wall: float           # seconds
    peak_rss_kb: int      # the tree's summed RSS at its sampled peak (or the largest process)
    exit_status: int
    output_tail: str      # for error messages when a tool fails
    cpu: float = 0.0      # seconds of user + system CPU of the tool and what it waited for


def _set_subreaper(is_on: bool) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, int(is_on), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def _parents() -> dict[int, int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                text = stat.read()
        except OSError:
            continue
        # the command name is in parentheses and may itself hold spaces or ')'
        fields = text[text.rindex(b")") + 2 :].split()
        if fields[0] != b"Z":
            parents[int(entry)] = int(fields[1])
    return parents


def descendants(root: int) -> list[int]:
    """Every living process below `root` (not `root` itself)."""
    children: dict[int, list[int]] = {}
    for pid, ppid in _parents().items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * PAGE_KB
    except (OSError, IndexError, ValueError):
        return 0


class _TreeSampler(threading.Thread):
    """Sums the RSS of every descendant of this process every SAMPLE_INTERVAL."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_kb = 0
        self.done = threading.Event()

    def run(self) -> None:
        me = os.getpid()
        while not self.done.wait(SAMPLE_INTERVAL):
            total = sum(_rss_kb(pid) for pid in descendants(me))
            self.peak_kb = max(self.peak_kb, total)


TIMED_OUT = 98  # stopped at its time limit: it did not finish, and that is the figure


def run_measured(argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None, timeout: float = 1800) -> Sample:
    """Run `argv` to its end; then stop whatever it left running below us."""
    _set_subreaper(True)
    try:
        return _run(argv, env, cwd, timeout)
    finally:
        _set_subreaper(False)


def _run(argv: Sequence[str], env: Mapping[str, str] | None, cwd: Path | None,
         timeout: float) -> Sample:
    sampler = _TreeSampler()
    # A file, not a pipe: a daemonized grandchild holding the pipe would block the read.
    with tempfile.TemporaryFile() as output:
        started = time.monotonic()
        process = subprocess.Popen(list(argv), env=dict(env) if env is not None else None,
                                   cwd=cwd, stdin=subprocess.DEVNULL, stdout=output,
                                   stderr=subprocess.STDOUT)
        sampler.start()
        timer = threading.Timer(timeout, process.kill)
        timer.daemon = True  # an interrupted bench must not wait out the timer to exit
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        wall = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        sampler.done.set()
        sampler.join()
        stop_leftovers()
        output.seek(0)
        tail = "\n".join(output.read().decode(errors="replace").splitlines()[-15:])
    # ru_maxrss (kB): the largest single process that wait4 accounted for, which the
    # sampler may miss in a run shorter than its interval.
    peak = max(sampler.peak_kb, usage.ru_maxrss)
    return Sample(wall, peak, process.returncode, tail, usage.ru_utime + usage.ru_stime)


def stop_leftovers() -> None:
    """SIGTERM, then SIGKILL, every process still below us (ssh masters a tool left
    persisting), and reap them: each run starts with no connection open."""
    me = os.getpid()
    for signum in (signal.SIGTERM, signal.SIGKILL):
        left = descendants(me)
        if not left:
            break
        for pid in left:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                continue
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and descendants(me):
            _reap()
            time.sleep(0.02)
    _reap()


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
