"""One lab host as a machine of its own: its root, its namespaces, its init, sshd and dockerd.

The host's root is an overlay over a cached Debian root (`rootfs`), mounted under
the host's state dir. The host boots inside its network namespace and new mount,
UTS and PID namespaces: it mounts /proc, /sys, the cgroup hierarchies and /dev
into its root, pivots into it and runs tini with the lab's init script, which
starts sshd and Docker with Debian's own init scripts (`service NAME start`).
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from engine.lab.layout import DOCKER, REGISTRY, HostPaths
from engine.lab.model import LabError
from engine.lab.proc import (
    Process,
    log_tail,
    process_in_tree,
    processes_in_netns,
    run,
    spawn_daemon,
    stop,
    succeeds,
    tool,
)

# Runs in the host's new namespaces, before the host's own init. Paths arrive as
# positional arguments, never pasted into the script. `pivot_root . .` stacks the old
# root over the new one and the lazy umount detaches it: the host then sees nothing of
# this machine's mounts (other hosts' roots, /run/netns), and does not pin them.
_BOOT_SCRIPT = """\
set -e
root=$1 run_dir=$2 data_root=$3
echo "$4" > /proc/sys/kernel/hostname
mount --make-rprivate /
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
# The cgroup v1 hierarchies: a fresh sysfs (or an rbind of /sys) does not carry them.
mount --rbind /sys/fs/cgroup "$root/sys/fs/cgroup"
mount -t tmpfs -o mode=0755,nosuid tmpfs "$root/dev"
mknod -m 0666 "$root/dev/null" c 1 3
mknod -m 0666 "$root/dev/zero" c 1 5
mknod -m 0666 "$root/dev/full" c 1 7
mknod -m 0666 "$root/dev/random" c 1 8
mknod -m 0666 "$root/dev/urandom" c 1 9
mknod -m 0666 "$root/dev/tty" c 5 0
mkdir "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mount --bind "$run_dir" "$root/run"
mount --bind "$data_root" "$root/var/lib/docker"
cd "$root"
pivot_root . .
umount -l .
cd /
exec /usr/bin/tini -s -- /sbin/lab-init
"""

# The host's init, under tini (which reaps what daemons orphan). Debian's init scripts
# start the daemons, so a playbook's `service NAME start|reload` finds them as it would
# on a server without systemd. A fresh host gets Docker only from bootstrap.yml.
LAB_INIT = """\
#!/bin/sh
# Written by `play lab up`: this host's init (tini runs it; there is no systemd).
mkdir -p /run/lock /run/sshd
service ssh start
if [ -x /usr/sbin/dockerd ]; then service docker start; fi
exec sleep infinity
"""

# What the lab's engines must run with: no bridge and no iptables rules (the lab's
# network rule: containers use their host's network namespace), and the lab registry.
# Pre-seeded in every host's root, so a docker.io that bootstrap.yml installs on a fresh
# host starts the same way; an air-gapped operator can pre-seed it likewise.
DAEMON_JSON = {
    "bridge": "none",
    "iptables": False,
    "ip6tables": False,
    "ip-masq": False,
    "insecure-registries": [REGISTRY],
}

# Sourced by every Debian init script (through /lib/lsb/init-functions). Docker's asks for
# `ulimit -n 1048576` under `set -e`, and where the lab runs without CAP_SYS_RESOURCE (as
# in some sandboxes and CI runners) a raise above the inherited hard limit fails and the
# engine never starts: there, keep the limits the host was given.
INIT_FUNCTIONS_HOOK = """\
# Written by `play lab up`: a limit this host may not raise is kept, not fatal.
ulimit() { command ulimit "$@" 2>/dev/null || true; }
"""

READY_TIMEOUT = 60.0
# ... plus this much per host brought up at once: 1000 sshds starting on 2 busy cores
# took longer than a minute to all answer (lab819 was still silent after 60 s)
READY_PER_HOST = 0.15


def ready_timeout(hosts: int) -> float:
    return READY_TIMEOUT + READY_PER_HOST * hosts


def docker(host: HostPaths, *args: str) -> list[str]:
    """A docker client command for the host's engine, from this machine, through its /run."""
    return [tool("docker"), "-H", f"unix://{host.docker_socket}", *args]


def mount_root(host: HostPaths, lower: Path) -> None:
    """The host's root: a writable overlay of its own over the read-only cached root."""
    for path in (host.root, host.upper, host.work, host.rootfs, host.run_dir, host.data_root):
        path.mkdir(mode=0o755, parents=True, exist_ok=True)
    options = f"lowerdir={lower},upperdir={host.upper},workdir={host.work}"
    run(["mount", "-t", "overlay", "overlay", "-o", options, str(host.rootfs)])


def install_init(host: HostPaths) -> None:
    init = host.inside("/sbin/lab-init")
    init.write_text(LAB_INIT)
    init.chmod(0o755)
    host.inside("/lib/lsb/init-functions.d/00-play-lab").write_text(INIT_FUNCTIONS_HOOK)
    docker_config = host.inside("/etc/docker")
    docker_config.mkdir(mode=0o755, exist_ok=True)
    (docker_config / "daemon.json").write_text(json.dumps(DAEMON_JSON, indent=2) + "\n")
    host.inside("/var/lib/docker").mkdir(mode=0o710, exist_ok=True)


def start_host(host: HostPaths) -> Process:
    """Boot the host; return the process that holds it (killing it ends the whole host)."""
    # nsenter, not `ip netns exec`: the latter remounts /sys from the root namespace.
    # --kill-child: the host's PID 1 (and with it every process of the host) dies with us.
    argv = [
        tool("nsenter"), f"--net={host.netns_file}",
        tool("unshare"), "--mount", "--uts", "--pid", "--fork", "--kill-child",
        "--propagation", "private",
        "sh", "-c", _BOOT_SCRIPT, "sh",
        str(host.rootfs), str(host.run_dir), str(host.data_root), host.name,
    ]  # fmt: skip
    return spawn_daemon(argv, label=host.name, pidfile=host.init_pidfile, log=host.boot_log)


def daemon(tree: Process, pidfile: Path) -> Process | None:
    """A daemon of the host by the pidfile it wrote in its /run: the PID there is the host's
    own, so it is mapped to this machine's through NSpid, within the host's process tree."""
    try:
        inner = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return process_in_tree(tree, inner)


def wait_until_ready(
    host: HostPaths, tree: Process, deadline: float, kind: str
) -> tuple[Process, Process | None]:
    """Wait for sshd's banner and (on a Docker host) `docker version`; return sshd and dockerd.
    Fail with the end of the host's logs."""
    wants_docker = kind == DOCKER
    sshd: Process | None = None
    dockerd: Process | None = None
    is_ssh_ready = False
    while time.monotonic() < deadline:
        if not tree.is_alive():
            raise LabError(f"{host.name} failed to boot:\n{_logs(host)}")
        sshd = sshd or daemon(tree, host.sshd_pidfile)
        is_ssh_ready = is_ssh_ready or (sshd is not None and _answers_ssh(host.address))
        if wants_docker and dockerd is None and succeeds(docker(host, "version"), timeout=5):
            dockerd = daemon(tree, host.docker_pidfile)
        if is_ssh_ready and sshd is not None and (dockerd is not None or not wants_docker):
            return sshd, dockerd
        time.sleep(0.1)
    what = "sshd" if not is_ssh_ready else "dockerd"
    raise LabError(f"{host.name}: {what} not ready within {READY_TIMEOUT:.0f} s + "
                   f"{READY_PER_HOST} s per host brought up:\n{_logs(host)}")


def _logs(host: HostPaths) -> str:
    logs = [host.boot_log]
    if host.rootfs.is_dir():
        logs.append(host.inside("/var/log/docker.log"))
    return "\n".join(f"end of {log}:\n{log_tail(log)}" for log in logs if log.exists())


def _answers_ssh(address: str) -> bool:
    try:
        with socket.create_connection((address, 22), timeout=1) as conn:
            return conn.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def remove_all_containers(host: HostPaths) -> None:
    """Remove the host's containers at once: dockerd would give each 10s to stop on SIGTERM."""
    if not host.docker_socket.exists():
        return
    listed = run(docker(host, "ps", "--all", "--quiet"), timeout=15, check=False).split()
    if listed:
        run(docker(host, "rm", "--force", *listed), timeout=60, check=False)


def kill_leftovers(host: HostPaths) -> None:
    """Stop whatever is still in the host's namespace once its init is gone.

    The PID namespace ends with its init, so this finds only what escaped it.
    """
    for _ in range(3):
        leftovers = processes_in_netns(host.netns_file)
        if not leftovers:
            return
        stop(leftovers, grace=3)
    survivors = ", ".join(str(proc.pid) for proc in processes_in_netns(host.netns_file))
    if survivors:
        raise LabError(f"{host.name}: processes {survivors} survived SIGKILL; its namespace stays")
