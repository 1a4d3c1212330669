"""Where everything of the lab lives: names, addresses and paths under the state dir.

Pure naming, no side effects; every other lab module asks here instead of
spelling a path or an address itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# The lab's own subnet. It is documented in the README; 172.16/12 and 192.168/16
# are avoided because they collide with Docker's and home routers' defaults.
BRIDGE = "playlab0"
BRIDGE_ADDRESS = "10.250.0.1"
BRIDGE_PREFIX = 24
# While the lab is up, this route keeps lab traffic on the machine even if the
# bridge (and its more specific /24 route) vanished.
BLACKHOLE = "10.250.0.0/16"
REGISTRY = f"{BRIDGE_ADDRESS}:5000"
IMAGE = "play-lab/busybox:latest"
REGISTRY_IMAGE = f"{REGISTRY}/busybox:latest"
NETNS_PREFIX = "playlab-"
VETH_PREFIX = "pl-"
MAX_HOSTS = 200

USER = "deploy"
GROUP = "play-lab"
USER_HOME = Path("/home/deploy")
# The mount points inside each host; they exist (empty) in the root filesystem.
HOST_SRV = Path("/srv")
HOST_VAR_LIB_PLAY = Path("/var/lib/play")

DEFAULT_STATE_DIR = Path("/var/lib/play-lab")
MARKER = ".play-lab"  # `down` only deletes a state dir that carries this file


def state_dir() -> Path:
    return Path(os.environ.get("PLAY_LAB_DIR", str(DEFAULT_STATE_DIR))).absolute()


def host_name(index: int) -> str:
    return f"lab{index}"


def host_address(index: int) -> str:
    return f"10.250.0.{10 + index}"


def host_index(name: str) -> int:
    """`lab3` -> 3; raises ValueError for a name the lab did not make."""
    if not name.startswith("lab") or not name[3:].isdigit():
        raise ValueError(name)
    return int(name[3:])


@dataclass(frozen=True)
class HostPaths:
    """One lab host: its namespace, its links and its files under `<state>/hosts/<name>/`."""

    index: int
    root: Path

    @property
    def name(self) -> str:
        return host_name(self.index)

    @property
    def address(self) -> str:
        return host_address(self.index)

    @property
    def netns(self) -> str:
        return f"{NETNS_PREFIX}{self.name}"

    @property
    def netns_file(self) -> Path:
        return Path("/run/netns") / self.netns

    @property
    def veth(self) -> str:
        return f"{VETH_PREFIX}{self.name}"

    @property
    def srv(self) -> Path:
        return self.root / "srv"

    @property
    def var_lib_play(self) -> Path:
        return self.root / "var-lib-play"

    @property
    def data_root(self) -> Path:
        return self.root / "docker-data"

    @property
    def exec_root(self) -> Path:
        return self.root / "docker-exec"

    @property
    def docker_socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def docker_pidfile(self) -> Path:
        return self.root / "dockerd.pid"

    @property
    def docker_config(self) -> Path:
        return self.root / "daemon.json"

    @property
    def docker_log(self) -> Path:
        return self.root / "dockerd.log"

    @property
    def shell_pidfile(self) -> Path:
        return self.root / "host.pid"

    @property
    def sshd_config(self) -> Path:
        return self.root / "sshd_config"

    @property
    def sshd_pidfile(self) -> Path:
        return self.root / "sshd.pid"

    @property
    def sshd_log(self) -> Path:
        return self.root / "sshd.log"

    @property
    def host_key(self) -> Path:
        return self.root / "ssh_host_ed25519_key"


@dataclass(frozen=True)
class LabPaths:
    """The files of the whole lab under the state dir."""

    root: Path

    def host(self, index: int) -> HostPaths:
        return HostPaths(index, self.root / "hosts" / host_name(index))

    @property
    def marker(self) -> Path:
        return self.root / MARKER

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def client_key(self) -> Path:
        return self.root / "id_ed25519"

    @property
    def authorized_keys(self) -> Path:
        return self.root / "authorized_keys"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @property
    def image_rootfs(self) -> Path:
        return self.root / "busybox-rootfs.tar"

    @property
    def image_archive(self) -> Path:
        return self.root / "busybox-image.tar"

    @property
    def registry_dir(self) -> Path:
        return self.root / "registry"

    @property
    def registry_config(self) -> Path:
        return self.root / "registry.yml"

    @property
    def registry_log(self) -> Path:
        return self.root / "registry.log"

    @property
    def registry_pidfile(self) -> Path:
        return self.root / "registry.pid"
