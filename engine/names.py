"""The name rules the loaders and the registry share: a service or host name becomes a
registry record's file name and etcd key (and a host name its deploy lock's), so the
loaders refuse, with exit 4 before anything runs, any name the registry could not store.

Pure; imports nothing of play's, so every stage may use it.
"""

from __future__ import annotations

MAX_NAME = 200
# The file backend's `<instance>.json` must be one file name of at most 255 bytes on every
# Linux file system. The bound keeps room for the `.play-tmp.<pid>` suffix older versions
# wrote through (records now pass through a random `.play-tmp.XXXXXXXXXX` beside them), so
# a name valid once stays valid; the same bound holds for etcd, so that records move
# between backends unchanged.
MAX_INSTANCE_BYTES = 255 - len(".json.play-tmp.4194304")



def check_name(kind: str, name: object) -> str:
    """A name that is one safe path segment, both as a file name and an etcd key segment.

    A leading dot is refused: it would hide the record from the file backend's listing
    and could collide with the backends' own `.locks` and `.staging` entries."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"{kind} name must be a non-empty string, not {name!r}")
    if len(name) > MAX_NAME:
        raise ValueError(f"{kind} name is longer than {MAX_NAME} characters: {name[:40]!r}...")
    if "/" in name or name.startswith(".") or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ValueError(f"{kind} name {name!r} must not contain '/' or control characters "
                         "and must not start with '.'")
    return name


def instance_id(service: str, host: str) -> str:
    """One instance of a service per inventory host: `<service>@<host>`."""
    instance = f"{check_name('service', service)}@{check_name('host', host)}"
    size = len(instance.encode("utf-8", "surrogatepass"))
    if size > MAX_INSTANCE_BYTES:
        raise ValueError(f"the registry record of service {service[:40]!r} on host "
                         f"{host[:40]!r} would be named {size} bytes long "
                         f"('<service>@<host>'); at most {MAX_INSTANCE_BYTES} fit in a file "
                         "name: shorten the service name or the host name")
    return instance
