"""The lab's container images, built without Docker Hub.

busybox-static as a root filesystem, `docker import`ed into every host's engine as
`play-lab/busybox:latest` (lab1 pushes it to the lab registry for tests that pull); and
the demo's two servers, Debian packages in a root made by mmdebstrap: its load balancer
`play-lab/haproxy:2.6` and its api server `play-lab/nginx:1.22`. Each of those is imported
once and kept as a `docker save` archive in the lab's cache (keyed by its recipe), so a
bring-up only `docker load`s it.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from engine.lab.hosts import docker
from engine.lab.layout import (
    HAPROXY_IMAGE,
    IMAGE,
    NGINX_IMAGE,
    REGISTRY_IMAGE,
    HostPaths,
    LabPaths,
    cache_dir,
)
from engine.lab.proc import run, succeeds, tool
from engine.lab.rootfs import RELEASE, apt_sources

# Served by `httpd -f -p PORT` when run from the image's working directory.
INDEX_HTML = b"play-lab busybox\n"
IMPORT_CHANGES = ("WORKDIR /var/www", 'CMD ["sh"]')
# Left out of the Debian images: docs, man pages and translations.
DPKG_OPTIONS = ("path-exclude=/usr/share/doc/*", "path-exclude=/usr/share/man/*",
                "path-exclude=/usr/share/locale/*")
# The api's server: workers that serve every request of a kept-alive connection in
# process (busybox httpd forks per connection: 1,950 req/s alone on loopback); no access
# log, which would cost more than the request. /health is what the health checks ask; a
# broken release answers it with an error (bench/zero_downtime.py makes one).
NGINX_CONFIG = """\
# play-lab/nginx: the demo's api (playbooks/deploy.yml) serves /srv/api on port 8080.
daemon off;
user www-data;
worker_processes 1;
pid /run/nginx.pid;
error_log stderr warn;
events {
    worker_connections 1024;
}
http {
    include /etc/nginx/mime.types;
    default_type text/plain;
    access_log off;
    keepalive_requests 100000;
    server {
        listen 8080 default_server;
        root /srv/api;
        location = /health {
            return 200 "ok\\n";
        }
    }
}
"""


@dataclass(frozen=True)
class DebianImage:
    """An image of Debian packages: `mmdebstrap --variant=essential` of this machine's
    sources with `packages`, `files` written into the root, imported with `changes`."""

    name: str
    packages: tuple[str, ...]
    changes: tuple[str, ...]
    files: tuple[tuple[str, str], ...] = ()   # (path in the root, content)

    @property
    def slug(self) -> str:
        """`play-lab/haproxy:2.6` -> `haproxy`: its archives' names in the cache."""
        return self.name.split("/")[-1].split(":")[0]

    def recipe_key(self) -> str:
        recipe = "\n".join([RELEASE, *self.packages, *DPKG_OPTIONS, *self.changes, self.name,
                            *(f"{path}\n{content}" for path, content in self.files)])
        return hashlib.sha256(recipe.encode()).hexdigest()[:12]

    def archive(self) -> Path:
        return cache_dir() / f"image-{self.slug}-{self.recipe_key()}.tar"


# The load balancer: haproxy (bash comes with the essential packages, for a health check
# through /dev/tcp), 119 MB. In master-worker mode (-W) HAProxy reloads its configuration
# on SIGUSR2 without closing its listeners; -db keeps the master in the foreground as PID 1.
HAPROXY_CONFIG = "/usr/local/etc/haproxy/haproxy.cfg"
HAPROXY = DebianImage(HAPROXY_IMAGE, ("haproxy",),
                      (f'CMD ["haproxy", "-W", "-db", "-f", "{HAPROXY_CONFIG}"]',))
# The api server: nginx-light, and busybox for `busybox wget` in health checks.
NGINX = DebianImage(NGINX_IMAGE, ("nginx-light", "busybox"), ('CMD ["nginx"]',),
                    (("/etc/nginx/nginx.conf", NGINX_CONFIG),))
DEBIAN_IMAGES = (HAPROXY, NGINX)
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
    for image in DEBIAN_IMAGES:
        load_debian_image(paths, count, image)


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


def load_debian_image(paths: LabPaths, count: int, image: DebianImage) -> None:
    """Load the cached image on every host that lacks it, several at once (each load is a
    stream of 100-odd MB into that host's engine); built first if not cached yet."""
    archive = image.archive()
    if not archive.exists():
        build_archive(paths.host(1), image, archive)
    missing = [paths.host(i) for i in range(1, count + 1)
               if not has_image(paths.host(i), image.name)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda host: run(docker(host, "load", "--input", str(archive)),
                                       timeout=300), missing))  # list: raise a failure


def build_archive(host: HostPaths, image: DebianImage, archive: Path) -> None:
    """mmdebstrap a root into a tarball, import it on one host, and keep that image as a
    `docker save` archive; the rename makes a complete archive appear at once."""
    archive.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    for stale in archive.parent.glob(f"image-{image.slug}-*.tar"):
        stale.unlink()
    with tempfile.TemporaryDirectory(prefix=".build-", dir=archive.parent) as building:
        hooks = []
        for number, (inside, content) in enumerate(image.files):
            outside = Path(building) / f"file-{number}"
            outside.write_text(content)
            hooks.append(f"--customize-hook=upload {outside} {inside}")  # no spaces in either
        rootfs = Path(building) / "rootfs.tar"
        run([tool("mmdebstrap"), "--quiet", "--variant=essential",
             f"--include={','.join(image.packages)}",
             *[f"--dpkgopt={option}" for option in DPKG_OPTIONS], *hooks,
             RELEASE, str(rootfs), *apt_sources()], timeout=900)
        import_image(host, rootfs, image.name, image.changes)
        saved = Path(building) / "image.tar"
        run(docker(host, "save", "--output", str(saved), image.name), timeout=300)
        saved.chmod(0o644)  # docker save makes it 0600; like the cached roots, nothing secret
        os.replace(saved, archive)


def push_to_registry(host: HostPaths) -> None:
    """Push the image from this host, then forget the registry tag there so pulls are real."""
    run(docker(host, "tag", IMAGE, REGISTRY_IMAGE))
    run(docker(host, "push", REGISTRY_IMAGE), timeout=120)
    run(docker(host, "rmi", REGISTRY_IMAGE))
