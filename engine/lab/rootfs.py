"""The lab hosts' Debian root filesystems and the package mirror, built once per machine.

`mmdebstrap` makes a minimal Debian 12 root with this machine's own apt sources and
downloads the mirror's .debs on the way; the Docker hosts' root is that root with
docker.io installed from the mirror in a chroot, and the sshd-only and Docker roots
also carry the deploy user. Everything is cached under /var/cache/play-lab, keyed by
a hash of the recipe, and built in a temporary directory renamed when complete, so
a build cut short is never used. Hosts never write here: each mounts an overlay.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from engine.lab.layout import MIRROR_URL, USER, cache_dir
from engine.lab.model import LabError
from engine.lab.proc import run, tool

RELEASE = "bookworm"
# What a provider's fresh server has: an OpenSSH server, sudo, ip, ps, and python3 (as
# Debian's cloud images have it: Ansible's modules need it, the benchmark runs Ansible on
# the hosts); tini is the hosts' init (it reaps orphans, which sshd's sessions and dockerd
# leave).
BASE_PACKAGES = ("openssh-server", "iproute2", "sudo", "procps", "tini", "python3")
# What the mirror serves: docker.io for bootstrap.yml, hello for tests that install a
# package, python3-docker for Ansible's community.docker modules on the Docker hosts.
MIRROR_PACKAGES = ("docker.io", "hello", "python3-docker")
DOCKER_PACKAGES = ("docker.io", "python3-docker")
# Bump when a build step below changes, so every machine rebuilds its cache.
RECIPE_VERSION = "4"
KINDS = ("fresh", "sshd", "docker")

# Inside the chroot: the deploy user as the lab hosts have it. No home skeleton (no rc
# files, so a login's output is only the command's); "*" rather than useradd's "!"
# keeps the account usable for key logins whatever sshd's UsePAM says.
_ADD_DEPLOY = f"""\
set -e
getent group docker >/dev/null || groupadd --system docker
useradd --shell /bin/sh --home-dir /home/{USER} --no-create-home --user-group \
  --groups docker {USER}
usermod --password '*' {USER}
install -d -m 0755 -o {USER} -g {USER} /home/{USER} /srv /var/lib/play
install -d -m 0700 -o {USER} -g {USER} /home/{USER}/.ssh
printf '%s\\n' '# Written by play lab: deploy may use become without a password.' \
  '{USER} ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/play-lab
chmod 0440 /etc/sudoers.d/play-lab
visudo -cf /etc/sudoers.d/play-lab
"""

# Inside the chroot: packages from the mirror, which is bind-mounted at /mnt/mirror
# (the hosts' own source, the mirror on the bridge, is not served while building).
_INSTALL_FROM_MIRROR = """\
set -e
# No service may start while installing: dockerd would come up on this machine's network.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
mv /etc/apt/sources.list /etc/apt/sources.list.lab
echo 'deb [trusted=yes] file:/mnt/mirror ./' > /etc/apt/sources.list
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
mv /etc/apt/sources.list.lab /etc/apt/sources.list
rm /usr/sbin/policy-rc.d
apt-get clean
rm -rf /var/lib/apt/lists/*
"""
# The hosts' only package source is the lab's mirror, as on an air-gapped fleet.
_LAB_SOURCES = f"deb [trusted=yes] {MIRROR_URL} ./"

# A chroot with /proc and the mirror mounted, in a mount namespace of its own so that
# nothing stays mounted on this machine whatever happens in it.
_IN_CHROOT = """\
set -e
root=$1 mirror=$2 script=$3
shift 3
mount -t proc proc "$root/proc"
mkdir -p "$root/mnt/mirror"
mount --bind "$mirror" "$root/mnt/mirror"
chroot "$root" sh -c "$script" sh "$@"
"""


@dataclass(frozen=True)
class Cache:
    """The cached roots and mirror for one recipe."""

    root: Path
    key: str

    def rootfs(self, kind: str) -> Path:
        return self.root / f"root-{kind}-{self.key}"

    @property
    def mirror(self) -> Path:
        return self.root / f"mirror-{self.key}"


def recipe_key() -> str:
    recipe = "\n".join([RECIPE_VERSION, RELEASE, *BASE_PACKAGES, "|", *MIRROR_PACKAGES, "|",
                        *DOCKER_PACKAGES, _LAB_SOURCES, _ADD_DEPLOY, _INSTALL_FROM_MIRROR,
                        _IN_CHROOT])
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def ensure_cache() -> Cache:
    """The roots and the mirror, built now if this machine has not built them yet."""
    cache = Cache(cache_dir(), recipe_key())
    cache.root.mkdir(mode=0o755, parents=True, exist_ok=True)
    # One builder at a time (CI warms the cache in the background while a `lab up` may
    # start): a second one waits here and then finds the build done, where it would have
    # built it again, and its _remove_stale would have deleted the first one's build.
    with open(cache.root / ".lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (cache.rootfs("fresh").is_dir() and cache.mirror.is_dir()):
            _build_base_and_mirror(cache)
        if not cache.rootfs("sshd").is_dir():
            _derive(cache, "fresh", "sshd", _ADD_DEPLOY, ())
        if not cache.rootfs("docker").is_dir():
            _derive(cache, "sshd", "docker", _INSTALL_FROM_MIRROR, DOCKER_PACKAGES)
        _remove_stale(cache)
    return cache


def _remove_stale(cache: Cache) -> None:
    """Builds of other recipes, and builds cut short, are only disk space now, unless a
    host still up has one as its overlay's lower layer."""
    current = {cache.mirror, *(cache.rootfs(kind) for kind in KINDS)}
    mounts = Path("/proc/self/mountinfo").read_text()
    for path in cache.root.iterdir():
        is_ours = path.name.startswith((".build-", "root-", "mirror-"))
        if is_ours and path not in current and path.is_dir() and f"={path}," not in mounts:
            shutil.rmtree(path)


def apt_sources() -> list[str]:
    """This machine's apt sources, as mmdebstrap reads them (it takes files as mirrors)."""
    found = [Path("/etc/apt/sources.list")] if Path("/etc/apt/sources.list").is_file() else []
    listed = Path("/etc/apt/sources.list.d")
    if listed.is_dir():
        found += sorted(p for p in listed.iterdir() if p.suffix in (".list", ".sources"))
    if not found:
        raise LabError("this machine has no apt sources (/etc/apt/sources.list{,.d}): the lab "
                       "builds its hosts' Debian root from them")
    return [str(path) for path in found]


def _build_base_and_mirror(cache: Cache) -> None:
    building = Path(tempfile.mkdtemp(prefix=".build-", dir=cache.root))
    try:
        rootfs, mirror = building / "root", building / "mirror"
        mirror.mkdir()
        # The host keys the package made would be shared by every host: each host gets its own.
        hooks = [
            f'chroot "$1" apt-get install --download-only -y -q {" ".join(MIRROR_PACKAGES)}',
            f"sync-out /var/cache/apt/archives {mirror}",
            'rm -f "$1"/etc/ssh/ssh_host_*',
            'rm -f "$1"/etc/apt/sources.list.d/*',
            f"echo '{_LAB_SOURCES}' > \"$1\"/etc/apt/sources.list",
        ]
        argv = [tool("mmdebstrap"), "--quiet", "--variant=minbase",
                f"--include={','.join(BASE_PACKAGES)}",
                *[f"--customize-hook={hook}" for hook in hooks],
                RELEASE, str(rootfs), *apt_sources()]
        run(argv, timeout=900)
        for leftover in ("lock", "partial"):
            path = mirror / leftover
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        packages = run([tool("dpkg-scanpackages"), "--multiversion", "."], cwd=mirror)
        (mirror / "Packages").write_text(packages)
        _publish(rootfs, cache.rootfs("fresh"))
        _publish(mirror, cache.mirror)
    finally:
        shutil.rmtree(building, ignore_errors=True)


def _derive(cache: Cache, source: str, kind: str, script: str, packages: tuple[str, ...]) -> None:
    building = Path(tempfile.mkdtemp(prefix=".build-", dir=cache.root))
    try:
        rootfs = building / "root"
        run(["cp", "-a", "--reflink=auto", str(cache.rootfs(source)), str(rootfs)], timeout=300)
        run([tool("unshare"), "--mount", "--propagation", "private", "sh", "-c", _IN_CHROOT,
             "sh", str(rootfs), str(cache.mirror), script, *packages], timeout=900)
        _publish(rootfs, cache.rootfs(kind))
    finally:
        shutil.rmtree(building, ignore_errors=True)


def _publish(built: Path, final: Path) -> None:
    """The rename is the commit: a name in the cache is always a complete build."""
    os.replace(built, final)

