"""Carry a swap plan (engine/containers/swap.py) out on one host: resolve the desired
image (pulling it when the pull policy says so), run the plan's commands in order
(plain docker commands batched into one round trip), and roll back to the container
kept aside when the new one cannot be created or does not become healthy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from engine.containers.docker import Docker
from engine.containers.drain import ServiceRecords
from engine.containers.facts import ContainerError, HostFacts, normalize_image
from engine.containers.spec import DesiredContainer, image_repository
from engine.containers.swap import Command, SwapPlan

if TYPE_CHECKING:
    from engine.connection import CommandResult

# the commands `Docker.apply` sends together: no decision between them
_PLAIN = frozenset({"remove", "stop", "rename", "start", "restart", "signal"})


def image_on_host(docker: Docker, host: str, desired: DesiredContainer, facts: HostFacts,
                  may_pull: bool) -> str | None:
    """The image id the desired image is on the host, pulled first when its pull policy
    asks and `may_pull` (not under --check); None when it is not there or not wanted."""
    if desired.state == "absent":
        return None
    known = facts.images.get(normalize_image(desired.image))
    must_pull = desired.pull == "always" or (desired.pull == "missing" and known is None)
    if not must_pull or not may_pull:
        if known is None and desired.pull == "never":
            raise ContainerError(f"image {desired.image} is not on {host} and pull is never")
        return known
    result = docker.pull(desired.image)
    if not result.is_ok:
        raise ContainerError(f"cannot pull {desired.image} on {host}: {result.stderr_tail()}")
    return result.stdout.strip().splitlines()[-1]


def carry_out(docker: Docker, desired: DesiredContainer, plan: SwapPlan,
              records: ServiceRecords) -> None:
    """Run the plan's commands in order; a failure to create the new container or of
    its health wait rolls back when the plan keeps an old container aside."""
    batch: list[Command] = []  # plain docker commands: sent together, one round trip
    for command in (*plan.commands, None):
        if command is not None and command.op in _PLAIN:
            batch.append(command)
            continue
        if batch:
            _check(docker.apply(batch, desired), ", ".join(map(str, batch)))
            batch = []
        if command is None:
            break
        if command.op == "deregister":
            records.take_out(drain=command.drain)
        elif command.op == "prune":
            docker.prune_images(image_repository(desired.image), desired.keep_images)
        elif command.op == "create":
            created = docker.create(desired)
            if not created.is_ok:
                roll_back(docker, desired, plan, records,
                          f"cannot create it: {created.stderr_tail()}")
        elif command.op == "wait":
            health = docker.wait_healthy(command.name, patience(desired))
            if not health.is_healthy:
                roll_back(docker, desired, plan, records, health.state + (
                    f"; last health check: {health.output}" if health.output else ""))


def roll_back(docker: Docker, desired: DesiredContainer, plan: SwapPlan,
              records: ServiceRecords, why: str) -> NoReturn:
    """The new container cannot be created or is not healthy: put the old one back
    (when one is aside), register again what this run took out for it, and fail."""
    if not plan.rollback:
        raise ContainerError(f"{desired.name} did not become healthy ({why})")
    *moves, wait = plan.rollback
    _check(docker.apply(moves, desired), "roll back")
    old = docker.wait_healthy(wait.name, patience(desired))
    if old.is_healthy:
        records.put_back()
    raise ContainerError(f"new {desired.name} did not become healthy ({why}); rolled back "
                         f"to the previous container"
                         + ("" if old.is_healthy else f", which is not healthy either "
                            f"({old.state})"))


def patience(desired: DesiredContainer) -> float:
    return desired.health.patience if desired.health else 30.0


def _check(result: CommandResult, what: str) -> None:
    if not result.is_ok:
        raise ContainerError(f"cannot {what}: {result.stderr_tail()}")
