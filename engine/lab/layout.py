"""Where everything of the lab lives: names, addresses and paths under the state dir.

Pure naming, no side effects; every other lab module asks here instead of
spelling a path or an address itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# The lab's own subnet. It is documented in docs/lab.md; 172.16/12 and 192.168/16
# are avoided because they collide with Docker's and home routers' defaults.
BRIDGE = "playlab0"
BRIDGE_ADDRESS = "10.250.0.1"
# A /22: room for 1000 hosts (a /24 holds ~240), under a Linux bridge's 1024 ports.
BRIDGE_PREFIX = 22
# While the lab is up, this route keeps lab traffic on the machine even if the
# bridge (and its more specific /24 route) vanished.
BLACKHOLE = "10.250.0.0/16"
REGISTRY = f"{BRIDGE_ADDRESS}:5000"
# The package mirror the lab serves to its hosts (their only apt source).
MIRROR_PORT = 3142
MIRROR_URL = f"http://{BRIDGE_ADDRESS}:{MIRROR_PORT}"
IMAGE = "play-lab/busybox:latest"
REGISTRY_IMAGE = f"{REGISTRY}/busybox:latest"
# The demo's load balancer: Debian's haproxy 2.6 (engine/lab/images.py builds it).
HAPROXY_IMAGE = "play-lab/haproxy:2.6"
# The demo's api server: Debian's nginx-light, serving /srv/api on port 8080.
NGINX_IMAGE = "play-lab/nginx:1.22"
NETNS_PREFIX = "playlab-"
VETH_PREFIX = "pl-"
MAX_HOSTS = 1000

USER = "deploy"
# Host kinds: a Docker host, an sshd-only host (`--no-docker`), a provider's fresh
# server (`--fresh`: root by key, nothing else).
DOCKER, SSHD, FRESH = "docker", "sshd", "fresh"

DEFAULT_STATE_DIR = Path("/var/lib/play-lab")
MARKER = ".play-lab"  # `down` only deletes a state dir that carries this file
# The hosts' Debian roots and the mirror: kept by `down`, built once per machine.
DEFAULT_CACHE_DIR = Path("/var/cache/play-lab")


def state_dir() -> Path:
    return Path(os.environ.get("PLAY_LAB_DIR", str(DEFAULT_STATE_DIR))).absolute()


def cache_dir() -> Path:
    return Path(os.environ.get("PLAY_LAB_CACHE", str(DEFAULT_CACHE_DIR))).absolute()


def host_name(index: int) -> str:
    return f"lab{index}"


def host_address(index: int) -> str:
    """lab1 is 10.250.0.11, lab245 10.250.0.255, lab246 10.250.1.0, lab1000 10.250.3.242."""
    number = 10 + index
    return f"10.250.{number // 256}.{number % 256}"


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
    def rootfs(self) -> Path:
        """Where the host's root filesystem (an overlay over the cached root) is mounted."""
        return self.root / "rootfs"

    @property
    def upper(self) -> Path:
        """The overlay's writable layer: everything the host changed in its root."""
        return self.root / "upper"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def run_dir(self) -> Path:
        """The host's /run, a plain directory here, so its sockets and pidfiles show outside."""
        return self.root / "run"

    @property
    def data_root(self) -> Path:
        """The host's /var/lib/docker: overlay2 does not stack on an overlayfs root."""
        return self.root / "docker-data"

    @property
    def docker_socket(self) -> Path:
        return self.run_dir / "docker.sock"

    @property
    def docker_pidfile(self) -> Path:
        return self.run_dir / "docker.pid"

    @property
    def sshd_pidfile(self) -> Path:
        return self.run_dir / "sshd.pid"

    @property
    def init_pidfile(self) -> Path:
        return self.root / "init.pid"

    @property
    def boot_log(self) -> Path:
        return self.root / "boot.log"

    @property
    def host_key(self) -> Path:
        return self.root / "ssh_host_ed25519_key"

    def inside(self, path: str) -> Path:
        """A path of the host's own filesystem, seen from this machine while the host is up."""
        return self.rootfs / path.lstrip("/")


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

    @property
    def mirror_log(self) -> Path:
        return self.root / "mirror.log"

    @property
    def mirror_pidfile(self) -> Path:
        return self.root / "mirror.pid"
