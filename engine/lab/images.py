"""The lab's container images, built without Docker Hub.

busybox-static as a root filesystem, `docker import`ed into every host's engine as
`play-lab/busybox:latest` (lab1 pushes it to the lab registry for tests that pull); and
the demo's load balancer, `play-lab/haproxy:2.6`: a Debian root with Debian's haproxy
made by mmdebstrap, imported once and kept as a `docker save` archive in the lab's cache
(keyed by its recipe), so a bring-up only `docker load`s it.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from engine.lab.hosts import docker
from engine.lab.layout import HAPROXY_IMAGE, IMAGE, REGISTRY_IMAGE, HostPaths, LabPaths, cache_dir
from engine.lab.proc import run, succeeds, tool
from engine.lab.rootfs import RELEASE, apt_sources

# Served by `httpd -f -p PORT` when run from the image's working directory.
INDEX_HTML = b"play-lab busybox\n"
IMPORT_CHANGES = ("WORKDIR /var/www", 'CMD ["sh"]')
# The HAProxy image: Debian's essential packages and haproxy (bash comes with them, for
# a health check through /dev/tcp), without docs, man pages and translations (119 MB).
# In master-worker mode (-W) HAProxy reloads its configuration on SIGUSR2 without
# closing its listeners; -db keeps the master in the foreground as PID 1.
HAPROXY_PACKAGES = ("haproxy",)
HAPROXY_DPKG_OPTIONS = ("path-exclude=/usr/share/doc/*", "path-exclude=/usr/share/man/*",
                        "path-exclude=/usr/share/locale/*")
HAPROXY_CONFIG = "/usr/local/etc/haproxy/haproxy.cfg"
HAPROXY_CHANGES = (f'CMD ["haproxy", "-W", "-db", "-f", "{HAPROXY_CONFIG}"]',)
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
    """Give hosts 1..count the images, with one image ID everywhere, as a registry would."""
    load_busybox(paths, count)
    load_haproxy(paths, count)


def load_busybox(paths: LabPaths, count: int) -> None:
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


def has_image(host: HostPaths, image: str = IMAGE) -> bool:
    return succeeds(docker(host, "image", "inspect", image))


def import_image(host: HostPaths, tar_path: Path, image: str = IMAGE,
                 changes: tuple[str, ...] = IMPORT_CHANGES) -> None:
    arguments = [arg for change in changes for arg in ("--change", change)]
    run(docker(host, "import", *arguments, str(tar_path), image), timeout=300)


def haproxy_recipe_key() -> str:
    recipe = "\n".join([RELEASE, *HAPROXY_PACKAGES, *HAPROXY_DPKG_OPTIONS, *HAPROXY_CHANGES,
                        HAPROXY_IMAGE])
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def haproxy_archive() -> Path:
    return cache_dir() / f"image-haproxy-{haproxy_recipe_key()}.tar"


def load_haproxy(paths: LabPaths, count: int) -> None:
    """Load the cached HAProxy image on every host that lacks it, several at once (each
    load is a 119 MB stream into that host's engine); built first if not cached yet."""
    archive = haproxy_archive()
    if not archive.exists():
        build_haproxy_archive(paths.host(1), archive)
    missing = [paths.host(i) for i in range(1, count + 1)
               if not has_image(paths.host(i), HAPROXY_IMAGE)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda host: run(docker(host, "load", "--input", str(archive)),
                                       timeout=300), missing))  # list: raise a failure


def build_haproxy_archive(host: HostPaths, archive: Path) -> None:
    """mmdebstrap a root with haproxy into a tarball, import it on one host, and keep that
    image as a `docker save` archive; the rename makes a complete archive appear at once."""
    archive.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    for stale in archive.parent.glob("image-haproxy-*.tar"):
        stale.unlink()
    with tempfile.TemporaryDirectory(prefix=".build-", dir=archive.parent) as building:
        rootfs = Path(building) / "rootfs.tar"
        run([tool("mmdebstrap"), "--quiet", "--variant=essential",
             f"--include={','.join(HAPROXY_PACKAGES)}",
             *[f"--dpkgopt={option}" for option in HAPROXY_DPKG_OPTIONS],
             RELEASE, str(rootfs), *apt_sources()], timeout=900)
        import_image(host, rootfs, HAPROXY_IMAGE, HAPROXY_CHANGES)
        saved = Path(building) / "image.tar"
        run(docker(host, "save", "--output", str(saved), HAPROXY_IMAGE), timeout=300)
        saved.chmod(0o644)  # docker save makes it 0600; like the cached roots, nothing secret
        os.replace(saved, archive)


def push_to_registry(host: HostPaths) -> None:
    """Push the image from this host, then forget the registry tag there so pulls are real."""
    run(docker(host, "tag", IMAGE, REGISTRY_IMAGE))
    run(docker(host, "push", REGISTRY_IMAGE), timeout=120)
    run(docker(host, "rmi", REGISTRY_IMAGE))
