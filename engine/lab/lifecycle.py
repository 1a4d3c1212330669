"""`play lab up | down | status`: bring the lab to the asked size, take it all away, report.

Each step checks what is already there first, so `up` can be repeated, and
`down` works from the state file plus whatever lab namespaces it finds.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.lab import access, hosts, images, net, rootfs
from engine.lab.inventory import write_inventory
from engine.lab.layout import (
    DOCKER,
    FRESH,
    MARKER,
    MAX_HOSTS,
    NETNS_PREFIX,
    SSHD,
    VETH_PREFIX,
    LabPaths,
    host_index,
    state_dir,
)
from engine.lab.mirror import start_mirror
from engine.lab.model import LabError, LabHost, LabStatus
from engine.lab.preconditions import check_preconditions
from engine.lab.proc import Process, run, stop
from engine.lab.registry import start_registry
from engine.lab.state import HostRecord, LabState, load_state, save_state

LOCK_FILE = Path("/run/play-lab.lock")


@contextmanager
def _exclusive() -> Iterator[None]:
    """One `up` or `down` at a time: both rewrite the same namespaces and state."""
    with LOCK_FILE.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise LabError("another `play lab up` or `down` is running; wait for it") from exc
        yield


def lab_up(
    count: int, inventory_path: Path, has_docker: bool = True, is_fresh: bool = False
) -> LabStatus:
    """Make hosts lab1..labN (N = count) and write their inventory; hosts above N are removed.

    Without Docker (`--no-docker`) each host runs only its sshd: a few MB instead of a
    Docker engine, so hundreds fit on one machine. Fresh hosts (`--fresh`) are servers
    as a provider hands them over, for bootstrap.yml. A host of another kind is remade.
    """
    if not 1 <= count <= MAX_HOSTS:
        raise LabError(f"--hosts must be between 1 and {MAX_HOSTS}, not {count}")
    kind = FRESH if is_fresh else DOCKER if has_docker else SSHD
    paths = LabPaths(state_dir())
    check_preconditions(paths.root)
    with _exclusive():
        try:
            _bring_up(paths, count, kind)
        except LabError as exc:
            raise LabError(f"{exc}\nthe lab is partly up; `play lab down` removes it") from exc
        lab_hosts = [paths.host(i) for i in range(1, count + 1)]
        write_inventory(inventory_path, paths, [(host.name, host.address) for host in lab_hosts],
                        kind)
        access.hand_to_invoking_user(
            [paths.client_key, Path(f"{paths.client_key}.pub"), paths.known_hosts, inventory_path]
        )
    return lab_status()


def _bring_up(paths: LabPaths, count: int, kind: str) -> None:
    paths.root.mkdir(mode=0o755, parents=True, exist_ok=True)
    paths.marker.touch()
    state = load_state(paths.state_file)
    cache = rootfs.ensure_cache()
    access.ensure_client_key(paths)
    net.ensure_bridge()
    extras = [i for i in sorted(set(state.hosts) | _found_host_indexes()) if i > count]
    _remove_hosts(paths, [state.hosts.get(i, HostRecord(i)) for i in extras])
    for index in extras:
        state = state.without_host(index)
    save_state(paths.state_file, state)
    if state.mirror is None or not state.mirror.is_alive():
        state = LabState(state.hosts, state.registry, start_mirror(paths, cache.mirror))
        save_state(paths.state_file, state)
    started: list[tuple[int, Process]] = []
    for index in range(1, count + 1):
        record = state.hosts.get(index)
        if record is not None and record.kind == kind and _is_healthy(paths, record):
            continue
        _remove_hosts(paths, [record or HostRecord(index)])
        tree = _create_host(paths, index, kind, cache.rootfs(kind))
        # Recorded before it is ready, so `down` stops it even if `up` fails now.
        state = state.with_host(_record(index, kind, tree))
        save_state(paths.state_file, state)
        started.append((index, tree))
    deadline = time.monotonic() + hosts.ready_timeout(len(started))
    for index, tree in started:
        sshd, dockerd = hosts.wait_until_ready(paths.host(index), tree, deadline, kind)
        state = state.with_host(_record(index, kind, tree, sshd, dockerd))
        save_state(paths.state_file, state)
    access.write_known_hosts(paths, [paths.host(i) for i in range(1, count + 1)])
    if state.registry is None or not state.registry.is_alive():
        state = LabState(state.hosts, start_registry(paths), state.mirror)
        save_state(paths.state_file, state)
    if kind == DOCKER:
        images.load_images(paths, count)


def _record(
    index: int, kind: str, tree: Process,
    sshd: Process | None = None, dockerd: Process | None = None,
) -> HostRecord:  # fmt: skip
    return HostRecord(index, dockerd, sshd, has_docker=kind == DOCKER, init=tree,
                      is_fresh=kind == FRESH)


def _create_host(paths: LabPaths, index: int, kind: str, lower: Path) -> Process:
    host = paths.host(index)
    hosts.mount_root(host, lower)
    hosts.install_init(host)
    access.make_host_key(host)
    access.install_login(paths, host, kind)
    access.install_identity(host)
    net.create_host_network(host)
    return hosts.start_host(host)


def _is_healthy(paths: LabPaths, record: HostRecord) -> bool:
    wanted = [record.init, record.sshd] + ([record.dockerd] if record.has_docker else [])
    return all(proc is not None and proc.is_alive() for proc in wanted) and (
        paths.host(record.index).netns_file.exists()
    )


def _found_host_indexes() -> set[int]:
    """Hosts that exist as a namespace or a link, whether or not the state file knows them."""
    names = [ns.removeprefix(NETNS_PREFIX) for ns in net.lab_namespaces()]
    names += [veth.removeprefix(VETH_PREFIX) for veth in net.lab_veths()]
    found = set()
    for name in names:
        try:
            found.add(host_index(name))
        except ValueError:
            continue
    return found


def _remove_hosts(paths: LabPaths, records: list[HostRecord]) -> None:
    _stop_hosts(paths, records)
    for record in records:
        host = paths.host(record.index)
        net.remove_host_network(host.netns, host.veth)
        _remove_tree(host.root)


def _stop_hosts(paths: LabPaths, records: list[HostRecord]) -> None:
    """Stop every engine together (each takes about a second), then end each host: its
    PID namespace, and every process in it, ends with the process holding it."""
    for record in records:
        if record.dockerd is not None and record.dockerd.is_alive():
            hosts.remove_all_containers(paths.host(record.index))
    stop([r.dockerd for r in records if r.dockerd is not None], grace=30)
    stop([r.init for r in records if r.init is not None], grace=5)
    for record in records:
        hosts.kill_leftovers(paths.host(record.index))


def lab_down() -> None:
    """Stop and remove everything `up` made; quiet when the lab is already down."""
    if os.geteuid() != 0:
        raise LabError("play lab needs root: run it with sudo")
    paths = LabPaths(state_dir())
    with _exclusive():
        state = load_state(paths.state_file) if paths.marker.exists() else LabState()
        indexes = sorted(set(state.hosts) | _found_host_indexes())
        _remove_hosts(paths, [state.hosts.get(i, HostRecord(i)) for i in indexes])
        stop([proc for proc in (state.registry, state.mirror) if proc is not None], grace=10)
        net.remove_bridge()
        net.release_netns_dir()
        _remove_state_dir(paths)


def _remove_state_dir(paths: LabPaths) -> None:
    if not paths.root.exists():
        return
    if not paths.marker.exists():
        if any(paths.root.iterdir()):
            raise LabError(
                f"{paths.root} has no {MARKER} file, so play lab did not make it; not deleting it"
            )
        paths.root.rmdir()
        return
    _remove_tree(paths.root)


def _remove_tree(root: Path) -> None:
    """Delete a directory, unmounting first anything mounted below it."""
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    below = [m for m in mounts if m == str(root) or m.startswith(f"{root}/")]
    for mount_point in sorted(below, key=len, reverse=True):
        run(["umount", "--lazy", mount_point])
    if root.exists():
        shutil.rmtree(root)


def lab_status() -> LabStatus:
    """What the state file says is up, checked against the live processes."""
    paths = LabPaths(state_dir())
    state = load_state(paths.state_file) if paths.marker.exists() else LabState()
    records = sorted(state.hosts.values(), key=lambda record: record.index)
    return LabStatus(
        hosts=tuple(_host_status(paths, record) for record in records),
        registry_alive=state.registry is not None and state.registry.is_alive(),
        state_dir=str(paths.root),
    )


def _host_status(paths: LabPaths, record: HostRecord) -> LabHost:
    has_netns = paths.host(record.index).netns_file.exists()
    return LabHost(
        name=record.name,
        address=record.address,
        sshd_alive=has_netns and record.sshd is not None and record.sshd.is_alive(),
        docker_alive=has_netns and record.dockerd is not None and record.dockerd.is_alive(),
        has_docker=record.has_docker,
    )
