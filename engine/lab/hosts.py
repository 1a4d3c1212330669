"""One lab host's processes: its sshd and its Docker engine, inside its namespaces.

Each host is one process tree entered into the host's network namespace and a
private mount namespace, where the host's own directories cover /srv and
/var/lib/play before sshd and dockerd start.
"""

from __future__ import annotations

import json
import os
import socket
import time

from engine.lab.layout import GROUP, HOST_SRV, HOST_VAR_LIB_PLAY, REGISTRY, HostPaths
from engine.lab.model import LabError
from engine.lab.proc import (
    Process,
    log_tail,
    process_from_pidfile,
    processes_in_netns,
    run,
    spawn_daemon,
    stop,
    succeeds,
    tool,
)

# Runs inside the host's namespaces (network, mount, hostname). Paths arrive as
# positional arguments, never pasted into the script. /run/netns is detached: this
# mount namespace would otherwise pin every other host's namespace after its deletion.
# With a daemon to exec ("$@" after the 8 fixed arguments: dockerd), sshd detaches and
# the daemon becomes the tree's process; without one (an sshd-only host) sshd stays in
# the foreground as that process.
_HOST_SCRIPT = """\
set -e
echo "$1" > /proc/sys/kernel/hostname
mount --bind "$2" "$3"
mount --bind "$4" "$5"
umount -l /run/netns 2>/dev/null || true
if [ $# -eq 8 ]; then exec "$6" -D -f "$7" -E "$8"; fi
"$6" -f "$7" -E "$8"
shift 8
exec "$@"
"""

READY_TIMEOUT = 60.0


def docker(host: HostPaths, *args: str) -> list[str]:
    return [tool("docker"), "-H", f"unix://{host.docker_socket}", *args]


def prepare_host_dirs(host: HostPaths, deploy_owner: tuple[int, int]) -> None:
    for path in (host.root, host.data_root, host.exec_root):
        path.mkdir(mode=0o755, parents=True, exist_ok=True)
    # deploy owns these as it would own its directories on a real server.
    for path in (host.srv, host.var_lib_play):
        path.mkdir(mode=0o755, exist_ok=True)
        os.chown(path, *deploy_owner)
    # Our own (empty) daemon.json, so a machine-wide /etc/docker/daemon.json can't leak in.
    host.docker_config.write_text(json.dumps({}) + "\n")


def start_host(host: HostPaths, has_docker: bool = True) -> Process:
    """Start the host's process tree; return its dockerd (sshd is found once it is ready),
    or, for an sshd-only host, its sshd."""
    for mount_point in (HOST_SRV, HOST_VAR_LIB_PLAY):
        mount_point.mkdir(mode=0o755, parents=True, exist_ok=True)
    # sshd's privilege separation directory, normally made by its systemd unit.
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    daemon = _dockerd_argv(host) if has_docker else []
    script_args = [
        host.name,
        str(host.srv), str(HOST_SRV), str(host.var_lib_play), str(HOST_VAR_LIB_PLAY),
        tool("sshd"), str(host.sshd_config), str(host.sshd_log),
    ]  # fmt: skip
    # nsenter, not `ip netns exec`: the latter remounts /sys, and dockerd then
    # fails with "Devices cgroup isn't mounted".
    argv = [
        tool("nsenter"), f"--net={host.netns_file}",
        tool("unshare"), "--mount", "--uts", "--propagation", "private",
        "sh", "-c", _HOST_SCRIPT, "sh", *script_args, *daemon,
    ]  # fmt: skip
    label = f"{host.name}'s dockerd" if has_docker else f"{host.name}'s sshd"
    return spawn_daemon(argv, label=label, pidfile=host.shell_pidfile, log=host.docker_log)


def _dockerd_argv(host: HostPaths) -> list[str]:
    return [
        tool("dockerd"),
        "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false",
        "--data-root", str(host.data_root),
        "--exec-root", str(host.exec_root),
        "--pidfile", str(host.docker_pidfile),
        "--config-file", str(host.docker_config),
        "-H", f"unix://{host.docker_socket}",
        "--group", GROUP,
        "--insecure-registry", REGISTRY,
    ]  # fmt: skip


def wait_until_ready(
    host: HostPaths, tree: Process, deadline: float, has_docker: bool = True
) -> Process:
    """Wait for `docker version` (unless sshd-only) and sshd's banner; return sshd.
    `tree` is what `start_host` returned. Fail with the log's tail."""
    is_docker_ready = not has_docker
    is_ssh_ready = False
    sshd: Process | None = None
    while time.monotonic() < deadline:
        if not tree.is_alive():
            log = host.docker_log
            raise LabError(
                f"{host.name}: sshd or dockerd failed to start; end of {log}:\n{log_tail(log)}"
            )
        is_docker_ready = is_docker_ready or succeeds(docker(host, "version"), timeout=5)
        is_ssh_ready = is_ssh_ready or _answers_ssh(host.address)
        sshd = sshd or process_from_pidfile(host.sshd_pidfile)
        if is_docker_ready and is_ssh_ready and sshd is not None:
            return sshd
        time.sleep(0.1)
    what = "dockerd" if not is_docker_ready else "sshd"
    log = host.docker_log if not is_docker_ready else host.sshd_log
    raise LabError(
        f"{host.name}: {what} not ready after {READY_TIMEOUT:.0f}s; end of {log}:\n{log_tail(log)}"
    )


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
    """Stop whatever is still in the host's namespace once its daemons are gone.

    Sessions sshd forked and containers a killed engine left behind end up here.
    """
    for _ in range(3):
        leftovers = processes_in_netns(host.netns_file)
        if not leftovers:
            return
        stop(leftovers, grace=3)
    survivors = ", ".join(str(proc.pid) for proc in processes_in_netns(host.netns_file))
    if survivors:
        raise LabError(f"{host.name}: processes {survivors} survived SIGKILL; its namespace stays")
