"""What the lab needs before it touches anything: root, a few Debian packages, a safe state dir.

Each failure says exactly what to do about it.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

from engine.lab.model import LabError
from engine.lab.proc import SEARCH_PATH

# Every program the lab runs, and the Debian package that provides it.
PACKAGE_OF_BINARY = {
    "sshd": "openssh-server",
    "ssh-keygen": "openssh-client",
    "dockerd": "docker.io",
    "docker": "docker.io",
    "busybox": "busybox-static",
    "docker-registry": "docker-registry",
    "ip": "iproute2",
    "nsenter": "util-linux",
    "unshare": "util-linux",
    "setsid": "util-linux",
    "mmdebstrap": "mmdebstrap",
    "dpkg-scanpackages": "dpkg-dev",
}


def missing_packages(which: Callable[[str], str | None]) -> list[str]:
    """The Debian packages to install, in a stable order, for the binaries `which` can't find."""
    missing = {PACKAGE_OF_BINARY[name] for name in PACKAGE_OF_BINARY if which(name) is None}
    return [package for package in dict.fromkeys(PACKAGE_OF_BINARY.values()) if package in missing]


def missing_packages_message(packages: list[str]) -> str:
    names = " ".join(packages)
    return f"missing Debian packages: {names}; install them with: apt-get install -y {names}"


def check_preconditions(state_dir: Path) -> None:
    if os.geteuid() != 0:
        raise LabError("play lab needs root: run it with sudo")
    packages = missing_packages(lambda name: shutil.which(name, path=SEARCH_PATH))
    if packages:
        raise LabError(missing_packages_message(packages))
    check_state_dir(state_dir)


def check_state_dir(state_dir: Path) -> None:
    """The hosts' roots and keys live in the state dir: no one else may be able to swap a
    directory above it (as anyone can in /tmp)."""
    for directory in [state_dir, *state_dir.parents]:
        try:
            info = directory.stat()
        except FileNotFoundError:
            continue
        if info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise LabError(
                f"the lab state dir {state_dir} must lie under directories owned by root and "
                f"not writable by others, and {directory} is not; set PLAY_LAB_DIR elsewhere "
                f"(the default is /var/lib/play-lab)"
            )
