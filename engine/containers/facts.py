"""What is on a host: every managed container and the images the plan asks for,
read with ONE remote command (`docker ps` for the ids, then one `docker inspect` of
containers and images together), parsed into plain data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.containers.spec import LABEL_MANAGED

# play's directory on the host (bootstrap.yml makes /var/lib/play the deploy user's); a
# host not bootstrapped by play gets one under the login's home, per host name, since a
# home directory may be shared between hosts (NFS, the lab).
_HOST_DIR = ('play_dir=/var/lib/play; { [ -d "$play_dir" ] && [ -w "$play_dir" ]; } || '
             '{ play_dir=$HOME/.play/$(uname -n); (umask 077; mkdir -p -- "$play_dir") '
             '|| exit 3; }; ')
# Every command that changes containers, and the facts round, hold this host's lock: a
# killed run's last command goes on on the host (sshd does not stop it), and the next run
# must neither read the containers halfway through it nor race it (the issue's "No such
# container", "failed to rename"). The deploy lock keeps two live runs apart already.
# Changes hold it shared, so one run's steps on different containers still overlap (held
# exclusive, they queued behind each other: 10 recreates on a host took 2.6 s, not 1.2 s);
# the facts round holds it exclusive, which is what waits out a killed run's commands, and
# every run reads a host's facts before it changes anything there.
def _host_lock(mode: str) -> str:
    # -s and -x, not the long options: busybox flock (Alpine hosts) knows only these
    return _HOST_DIR + (
        'exec 9>>"$play_dir/containers.lock" || exit 3; '
        f'if command -v flock >/dev/null; then flock {mode} -w 120 9 || '
        '{ echo "another play run is still changing containers on this host '
        '($play_dir/containers.lock held for 120 s)" >&2; exit 3; }; fi; ')


HOST_LOCK = _host_lock("-s")

# Container ids and normalized image references never collide in one `docker inspect`:
# a normalized reference always holds ':' or '@', which a container name cannot.
_FACTS_SCRIPT = _host_lock("-x") + (
    'ids=$(docker ps -aq --no-trunc --filter "label=$1=true") || exit 3; shift; '
    'docker inspect -- $ids "$@" 2>/dev/null; '
    'case $? in 0|1) exit 0;; *) exit 3;; esac'
)
_CONTAINER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")  # Docker's own rule for names
# For placement, the same command first prints one line of the host's resources, read
# with the shell's own `read` from /proc (nproc is the only extra process).
_RESOURCES_SCRIPT = (
    'read load _ < /proc/loadavg; mem=0; '
    'while read key value _; do [ "$key" = MemAvailable: ] && mem=$value; done < /proc/meminfo; '
    'echo "play-resources $(nproc) $mem $load"; '
)
_RESOURCES_TAG = "play-resources"


class ContainerError(Exception):
    """The container step failed on this host; the message says what Docker said."""


class EngineDown(ContainerError):
    """The host's Docker engine does not answer: nothing about its containers is known."""


@dataclass(frozen=True)
class HostResources:
    cpus: int
    memory_free: int            # bytes (MemAvailable)
    load: float                 # 1-minute load average


@dataclass(frozen=True)
class CurrentContainer:
    id: str
    name: str
    labels: Mapping[str, str]
    status: str                 # created | running | paused | restarting | exited | dead
    health: str | None          # starting | healthy | unhealthy; None without a healthcheck
    image_id: str
    health_output: str          # the last health check's output, for error messages
    cpus: float = 0.0           # its --cpus limit, 0 when none

    @property
    def is_running(self) -> bool:
        return self.status == "running"


@dataclass(frozen=True)
class HostFacts:
    containers: Mapping[str, CurrentContainer]   # by name
    images: Mapping[str, str]                    # normalized reference -> image id
    resources: HostResources | None = None       # asked for placement only


def normalize_image(reference: str) -> str:
    """`busybox` -> `busybox:latest`; a reference with a tag or digest stays."""
    last = reference.rsplit("/", 1)[-1]
    if "@" in reference or ":" in last:
        return reference
    return f"{reference}:latest"


def facts_command(image_references: Iterable[str], container_names: Iterable[str] = (),
                  with_resources: bool = False) -> list[str]:
    """`container_names` are inspected too, managed or not, so that a caller can tell a
    container play does not manage from one that does not exist. Names must be valid
    Docker container names (see `is_container_name`): they reach `docker inspect` as
    arguments, where one starting with '-' would be an option. `with_resources` adds the
    host's CPU count, free memory and load (placement)."""
    refs = sorted({normalize_image(ref) for ref in image_references})
    names = sorted(set(container_names))
    for name in names:
        if not is_container_name(name):
            raise ValueError(f"not a Docker container name: {name!r}")
    script = (_RESOURCES_SCRIPT if with_resources else "") + _FACTS_SCRIPT
    return ["/bin/sh", "-c", script, "play-facts", LABEL_MANAGED, *refs, *names]


def is_container_name(name: str) -> bool:
    return _CONTAINER_NAME.fullmatch(name) is not None


def parse_container(item: Mapping[str, Any]) -> CurrentContainer:
    state = item.get("State") or {}
    health = state.get("Health") or None
    log = (health or {}).get("Log") or []
    return CurrentContainer(
        id=item["Id"], name=item["Name"].lstrip("/"),
        labels=(item.get("Config") or {}).get("Labels") or {},
        status=state.get("Status", "unknown"),
        health=health.get("Status") if health else None,
        image_id=item.get("Image", ""),
        health_output=(log[-1].get("Output") or "").strip() if log else "",
        cpus=((item.get("HostConfig") or {}).get("NanoCpus") or 0) / 1e9)


def parse_facts(stdout: str, image_references: Iterable[str]) -> HostFacts:
    """Parse the facts command's output; raises ValueError when it is not Docker's JSON."""
    resources = None
    if stdout.startswith(_RESOURCES_TAG):
        first, _, stdout = stdout.partition("\n")
        _, cpus, memory_kib, load = first.split()
        resources = HostResources(int(cpus), int(memory_kib) * 1024, float(load))
    items = json.loads(stdout) if stdout.strip() else []
    containers: dict[str, CurrentContainer] = {}
    image_ids: dict[str, str] = {}
    for item in items:
        if "State" in item:
            container = parse_container(item)
            containers[container.name] = container
        else:
            for name in [*(item.get("RepoTags") or []), *(item.get("RepoDigests") or [])]:
                image_ids[name] = item["Id"]
    images = {}
    for reference in image_references:
        normalized = normalize_image(reference)
        found = image_ids.get(normalized) or image_ids.get(_short_hub_name(normalized))
        if found:
            images[normalized] = found
    return HostFacts(containers, images, resources)


def _short_hub_name(reference: str) -> str:
    """Docker lists Docker Hub images without `docker.io/library/`."""
    for prefix in ("docker.io/library/", "docker.io/"):
        if reference.startswith(prefix):
            return reference[len(prefix):]
    return reference
