"""Who may log in to the lab and how they know they reached the right host.

The lab's client key, each host's host key, the known_hosts file, and the files
that put them inside a host's own root: the login's authorized_keys and the
lab's sshd settings. Nothing here touches this machine's /etc.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from engine.lab.layout import FRESH, USER, HostPaths, LabPaths
from engine.lab.proc import run

# Read before Debian's own settings (the first value sshd reads wins). Fresh hosts get
# none of it: they are what a provider hands over, and bootstrap.yml sets the rest.
SSHD_DROP_IN = "/etc/ssh/sshd_config.d/00-play-lab.conf"
_SSHD_SETTINGS = """\
# Written by `play lab up`.
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
# Parallel runs open many sessions at once; the defaults (10) would refuse some.
MaxStartups 100
MaxSessions 100
"""
# Every host: its own key only (no RSA or ECDSA key is made for it).
_SSHD_HOST_KEY = "HostKey /etc/ssh/ssh_host_ed25519_key\n"


def ensure_client_key(paths: LabPaths) -> None:
    if not paths.client_key.exists():
        _keygen(paths.client_key, "play-lab")


def make_host_key(host: HostPaths) -> None:
    for stale in (host.host_key, Path(f"{host.host_key}.pub")):
        stale.unlink(missing_ok=True)
    _keygen(host.host_key, host.name)


def _keygen(path: Path, comment: str) -> None:
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])


def write_known_hosts(paths: LabPaths, hosts: list[HostPaths]) -> None:
    # Port 22 needs no [address]:port form; OpenSSH and paramiko both read plain addresses.
    lines = []
    for host in hosts:
        key_type, key = Path(f"{host.host_key}.pub").read_text().split()[:2]
        lines.append(f"{host.address} {key_type} {key}\n")
    _write_root_file(paths.known_hosts, "".join(lines), 0o644)


def install_login(paths: LabPaths, host: HostPaths, kind: str) -> None:
    """Put the host key, the lab key's authorized_keys and the lab's sshd settings into
    the host's root (mounted, not yet booted): root's login on a fresh host, deploy's on others."""
    ssh = host.inside("/etc/ssh")
    for suffix, mode in (("", 0o600), (".pub", 0o644)):
        target = ssh / f"ssh_host_ed25519_key{suffix}"
        shutil.copyfile(f"{host.host_key}{suffix}", target)
        target.chmod(mode)
    settings = _SSHD_HOST_KEY if kind == FRESH else _SSHD_HOST_KEY + _SSHD_SETTINGS
    _write_root_file(host.inside(SSHD_DROP_IN), settings, 0o644)
    home = host.inside("/root") if kind == FRESH else host.inside(f"/home/{USER}")
    dot_ssh = home / ".ssh"
    dot_ssh.mkdir(mode=0o700, exist_ok=True)
    keys = dot_ssh / "authorized_keys"
    keys.write_text(Path(f"{paths.client_key}.pub").read_text())
    keys.chmod(0o600)
    owner = home.stat()
    for path in (dot_ssh, keys):
        os.chown(path, owner.st_uid, owner.st_gid)


def install_identity(host: HostPaths) -> None:
    """The host's name in its own /etc, as a provider's image would have it (sudo warns
    on every call when the hostname does not resolve)."""
    _write_root_file(host.inside("/etc/hostname"), f"{host.name}\n", 0o644)
    hosts = f"127.0.0.1 localhost\n127.0.1.1 {host.name}\n{host.address} {host.name}\n"
    _write_root_file(host.inside("/etc/hosts"), hosts, 0o644)


def _write_root_file(path: Path, text: str, mode: int) -> None:
    path.write_text(text)
    path.chmod(mode)


def hand_to_invoking_user(files: list[Path]) -> None:
    """Under sudo, give the files a user needs for `play` (key, known_hosts, inventory) to them.

    ssh refuses a private key its user cannot read, and `play` itself needs no root.
    """
    uid, gid = os.environ.get("SUDO_UID"), os.environ.get("SUDO_GID")
    if not uid or not gid or uid == "0":
        return
    for path in files:
        if path.exists():
            os.chown(path, int(uid), int(gid))
