"""The lab's container image, built without any network: busybox-static as a root filesystem.

`docker import` loads it into every host's engine as `play-lab/busybox:latest`,
and lab1 pushes it to the lab registry for tests that pull.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from engine.lab.hosts import docker
from engine.lab.layout import IMAGE, REGISTRY_IMAGE, HostPaths, LabPaths
from engine.lab.proc import run, succeeds, tool

# Served by `httpd -f -p PORT` when run from the image's working directory.
INDEX_HTML = b"play-lab busybox\n"
IMPORT_CHANGES = ("WORKDIR /var/www", 'CMD ["sh"]')
ROOTFS_DIRS = ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "root", "proc", "sys", "dev",
               "var", "var/www")  # fmt: skip


def _add_dir(tar: tarfile.TarFile, name: str, mode: int = 0o755) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, mode
    tar.addfile(info)


def _add_file(tar: tarfile.TarFile, name: str, content: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(content), mode
    tar.addfile(info, io.BytesIO(content))


def build_rootfs(tar_path: Path) -> None:
    """A tarball of /bin/busybox with a symlink for every applet it has."""
    busybox = Path(tool("busybox"))
    applets = run([str(busybox), "--list-full"]).split()  # e.g. "usr/bin/wget"
    with tarfile.open(tar_path, "w") as tar:
        for directory in ROOTFS_DIRS:
            _add_dir(tar, directory)
        _add_dir(tar, "tmp", 0o1777)
        tar.add(busybox, arcname="bin/busybox")
        for applet in applets:
            if applet == "bin/busybox":
                continue
            link = tarfile.TarInfo(applet)
            link.type, link.linkname = tarfile.SYMTYPE, "/bin/busybox"
            tar.addfile(link)
        _add_file(
            tar,
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n",
        )
        _add_file(tar, "etc/group", b"root:x:0:\nnogroup:x:65534:\n")
        _add_file(tar, "var/www/index.html", INDEX_HTML)


def load_images(paths: LabPaths, count: int) -> None:
    """Give hosts 1..count the image, with one image ID everywhere, as a registry would."""
    first = paths.host(1)
    if not paths.image_archive.exists():
        if not has_image(first):
            build_rootfs(paths.image_rootfs)
            import_image(first, paths.image_rootfs)
            paths.image_rootfs.unlink()
        # `docker import` stamps the time into the image, so import once and copy the result.
        run(docker(first, "save", "--output", str(paths.image_archive), IMAGE), timeout=120)
    for index in range(1, count + 1):
        if not has_image(paths.host(index)):
            run(docker(paths.host(index), "load", "--input", str(paths.image_archive)), timeout=120)
    push_to_registry(first)


def has_image(host: HostPaths) -> bool:
    return succeeds(docker(host, "image", "inspect", IMAGE))


def import_image(host: HostPaths, tar_path: Path) -> None:
    changes = [arg for change in IMPORT_CHANGES for arg in ("--change", change)]
    run(docker(host, "import", *changes, str(tar_path), IMAGE), timeout=120)


def push_to_registry(host: HostPaths) -> None:
    """Push the image from this host, then forget the registry tag there so pulls are real."""
    run(docker(host, "tag", IMAGE, REGISTRY_IMAGE))
    run(docker(host, "push", REGISTRY_IMAGE), timeout=120)
    run(docker(host, "rmi", REGISTRY_IMAGE))
