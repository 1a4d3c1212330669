"""The bench's lab: bring it to the size a scenario needs (`play lab up`), give every
Docker host the two app images, and reset it between runs so each cold run is cold.

Housekeeping goes over the OpenSSH client as `deploy`, like a user's, and touches only
containers named with the bench's prefix.
"""

from __future__ import annotations

import shlex
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from bench.scenarios import CONTAINER_PREFIX, IMAGE_V1, IMAGE_V2, Workload
from bench.tools import Target
from bench.tools.play import play_executable

BASE_IMAGE = "play-lab/busybox:latest"
# PID 1 that stops at once on SIGTERM, so no tool waits out docker's 10 s stop timeout.
APP_CMD = '["sh", "-c", "trap \\"exit 0\\" TERM; sleep 100000 & wait"]'


def lab_up(workload: Workload, workdir: Path) -> Target:
    inventory = workdir / "lab.yml"
    argv = [*play_executable(), "lab", "up", "--hosts", str(workload.hosts),
            "--inventory-out", str(inventory)]
    if not workload.has_docker:
        argv.append("--no-docker")
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    group = yaml.safe_load(inventory.read_text())["all"]["children"]["lab"]
    names = tuple(group["hosts"])
    return Target(addresses=tuple(group["hosts"][name]["address"] for name in names),
                  names=names, user=group["vars"]["user"], key=Path(group["vars"]["ssh_key"]),
                  known_hosts=Path(group["vars"]["known_hosts"]), inventory=inventory)


def lab_down() -> None:
    subprocess.run([*play_executable(), "lab", "down"], check=True, stdout=subprocess.DEVNULL)


def _ssh(target: Target, address: str, script: str) -> str:
    argv = ["ssh", "-i", str(target.key), "-o", f"UserKnownHostsFile={target.known_hosts}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
            f"{target.user}@{address}", script]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{address}: `{script}` failed: {done.stderr.strip()}")
    return done.stdout.strip()


def on_every_host(target: Target, script: str) -> list[str]:
    """The script's stdout on each host, in the target's order."""
    with ThreadPoolExecutor(len(target.addresses)) as pool:
        return list(pool.map(lambda address: _ssh(target, address, script), target.addresses))


def check_containers(target: Target, workload: Workload, image: str) -> str | None:
    """What is wrong with the bench's containers after a phase, or None: a tool that
    silently did nothing must not pass for fast."""
    listing = (f"docker ps --filter name=^{CONTAINER_PREFIX} --filter status=running "
               "--format '{{.Names}} {{.Image}}'")
    expected = sorted(f"{name} {image}" for name in workload.container_names())
    for address, found in zip(target.addresses, on_every_host(target, listing), strict=True):
        if sorted(found.split("\n")) != expected:
            return f"{address}: expected {len(expected)} containers running {image}, found " \
                f"{found.strip() or 'none'}"
    return None


def make_app_images(target: Target) -> None:
    """bench/app:v1 and :v2 on every host: the lab image with a stoppable PID 1, committed
    twice with different labels so that their image ids differ (no Docker Hub)."""
    lines = ["set -e"]
    for image, version in ((IMAGE_V1, "1"), (IMAGE_V2, "2")):
        scratch = f"bench-image-{version}"
        lines += [
            f"if ! docker image inspect {image} >/dev/null 2>&1; then",
            f"  docker rm -f {scratch} >/dev/null 2>&1 || true",
            f"  docker create --name {scratch} {BASE_IMAGE} true >/dev/null",
            "  docker commit " + shlex.join(["--change", f"CMD {APP_CMD}", "--change",
                                             f"LABEL bench.version={version}", scratch,
                                             image]) + " >/dev/null",
            f"  docker rm {scratch} >/dev/null",
            "fi",
        ]
    on_every_host(target, "\n".join(lines))


def remove_bench_containers(target: Target) -> None:
    """Every container named with the bench's prefix, on every host, at once."""
    script = (f"ids=$(docker ps -aq --filter name=^{CONTAINER_PREFIX}); "
              '[ -z "$ids" ] || docker rm -f $ids >/dev/null')
    on_every_host(target, script)
