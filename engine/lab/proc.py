"""Commands and processes for the lab: run a tool, and find, watch and stop lab processes.

A process is named by its PID *and* its start time, so a PID the kernel has
since given to someone else is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.lab.model import LabError

# sshd and friends live in sbin, which a sudo'd PATH may lack.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])


def tool(name: str) -> str:
    """The absolute path of a program the lab runs (preconditions checked it exists)."""
    found = shutil.which(name, path=SEARCH_PATH)
    if found is None:
        raise LabError(f"`{name}` is not installed")
    return found


def run(
    argv: Sequence[str], *, timeout: float = 60, check: bool = True, cwd: Path | None = None
) -> str:
    """Run a command; return its stdout. A failure becomes a LabError with its stderr."""
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL, cwd=cwd,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"`{' '.join(argv)}` did not finish within {timeout:.0f}s") from exc
    if check and done.returncode != 0:
        raise LabError(f"`{' '.join(argv)}` failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def succeeds(argv: Sequence[str], *, timeout: float = 10) -> bool:
    try:
        done = subprocess.run(
            list(argv), capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


@dataclass(frozen=True)
class Process:
    pid: int
    started: int  # clock ticks after boot, field 22 of /proc/PID/stat

    def is_alive(self) -> bool:
        stat = _read_stat(self.pid)
        # A zombie has finished; only its parent's wait is missing.
        return stat is not None and stat[0] != "Z" and int(stat[19]) == self.started

    def signal(self, signum: signal.Signals) -> None:
        if self.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)


def _read_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat from the state on (index 0 = state), or None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may itself contain spaces or ')'.
    return text[text.rindex(")") + 2 :].split()


def process(pid: int) -> Process | None:
    stat = _read_stat(pid)
    if stat is None or stat[0] == "Z":
        return None
    return Process(pid, int(stat[19]))


def process_from_pidfile(path: Path) -> Process | None:
    try:
        return process(int(path.read_text().strip()))
    except (FileNotFoundError, ValueError):
        return None


def stop(processes: Iterable[Process], *, grace: float) -> list[Process]:
    """SIGTERM each, wait up to `grace` seconds, SIGKILL the rest; return those still alive."""
    alive = [proc for proc in processes if proc.is_alive()]
    for proc in alive:
        proc.signal(signal.SIGTERM)
    alive = _wait_gone(alive, grace)
    for proc in alive:
        proc.signal(signal.SIGKILL)
    return _wait_gone(alive, 5)


def _wait_gone(processes: list[Process], seconds: float) -> list[Process]:
    deadline = time.monotonic() + seconds
    while True:
        processes = [proc for proc in processes if proc.is_alive()]
        if not processes or time.monotonic() >= deadline:
            return processes
        time.sleep(0.05)


def processes_in_netns(netns_file: Path) -> list[Process]:
    """Every process in that network namespace, and all their descendants.

    Descendants count because a container with its own network namespace is
    still a child of its host's containerd-shim.
    """
    return processes_in_netns_of([netns_file]).get(netns_file, [])


def processes_in_netns_of(netns_files: Sequence[Path]) -> dict[Path, list[Process]]:
    """`processes_in_netns` of each file, from ONE walk over /proc (tearing down 1000
    hosts walked it once per host: minutes)."""
    targets: dict[tuple[int, int], Path] = {}
    for netns_file in netns_files:
        try:
            target = os.stat(netns_file)
        except FileNotFoundError:
            continue
        targets[(target.st_dev, target.st_ino)] = netns_file
    if not targets:
        return {}
    parents: dict[int, int] = {}
    members: dict[Path, set[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        stat = _read_stat(pid)
        if stat is None or stat[0] == "Z":
            continue
        parents[pid] = int(stat[1])
        try:
            ns = os.stat(entry / "ns" / "net")
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
        member_of = targets.get((ns.st_dev, ns.st_ino))
        if member_of is not None:
            members.setdefault(member_of, set()).add(pid)
    found: dict[Path, list[Process]] = {}
    for netns_file, pids in members.items():
        alive = (process(pid) for pid in sorted(pids | _descendants(pids, parents)))
        found[netns_file] = [proc for proc in alive if proc is not None]
    return found


def _descendants(roots: set[int], parents: dict[int, int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found and child not in roots:
                found.add(child)
                todo.append(child)
    return found


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(child) for child in (task / "children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError):
        pass
    return found


def _nspid(pid: int) -> list[int]:
    """The process's PID in its own PID namespace and every one above, outermost first."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return []
    line = next((line for line in status.splitlines() if line.startswith("NSpid:")), "")
    return [int(field) for field in line.split()[1:]]


def process_in_tree(top: Process, inner_pid: int) -> Process | None:
    """The descendant of `top` whose PID is `inner_pid` in the PID namespace that `top`'s
    first child is the init of (a lab host's), or None; containers' own PID namespaces
    nested in it are one level deeper, so their PIDs never match."""
    if not top.is_alive():
        return None
    inits = _children(top.pid)
    if not inits:
        return None
    depth = len(_nspid(inits[0]))
    todo = list(inits)
    while todo:
        pid = todo.pop()
        nspid = _nspid(pid)
        if len(nspid) == depth and nspid[-1] == inner_pid:
            return process(pid)
        todo += _children(pid)
    return None


# Writes its own PID, then becomes the daemon: exec keeps the PID through every hop.
_RECORD_PID_AND_EXEC = 'echo $$ > "$1"; shift; exec "$@"'


def spawn_daemon(argv: Sequence[str], *, label: str, pidfile: Path, log: Path) -> Process:
    """Start a long-lived process detached from us (own session, parent init); return it.

    `setsid --fork` makes init its parent, so it outlives the `play` command and
    never lingers as our zombie once stopped.
    """
    pidfile.unlink(missing_ok=True)
    with log.open("ab") as log_file:
        subprocess.run(
            ["setsid", "--fork", "sh", "-c", _RECORD_PID_AND_EXEC, "sh", str(pidfile), *argv],
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file, check=True,
        )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            pid = int(pidfile.read_text())
        except (FileNotFoundError, ValueError):
            time.sleep(0.02)
            continue
        started = process(pid)
        if started is None:
            break
        return started
    raise LabError(f"{label} did not start; end of {log}:\n{log_tail(log)}")


def log_tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"(no log at {log})"


def start_server(argv: Sequence[str], label: str, pidfile: Path, log: Path, address: str,
                 port: int) -> Process:
    """Start a lab daemon that serves on `address:port` and wait (20 s) until it accepts;
    when it does not, stop it and fail with its log's tail."""
    server = spawn_daemon(argv, label=label, pidfile=pidfile, log=log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if not server.is_alive():
            break
        if _accepts(address, port):
            return server
        time.sleep(0.05)
    stop([server], grace=3)
    raise LabError(f"{label} did not start; end of {log}:\n{log_tail(log)}")


def _accepts(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1):
            return True
    except OSError:
        return False
