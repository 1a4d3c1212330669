"""The swap state machine (engine/containers/swap.py): every state a killed run can leave
on a host, from the facts round, maps to the commands that converge it. Facts in, plan
out; no host."""

from __future__ import annotations

from typing import Any

import pytest

from engine.containers.facts import CurrentContainer
from engine.containers.spec import LABEL_HASH, DesiredContainer, desired_container
from engine.containers.swap import SwapPlan, plan_swap

IMAGE = "sha256:new"
OLD_IMAGE = "sha256:old"


def desired(**changes: Any) -> DesiredContainer:
    spec: dict[str, Any] = {
        "image": "app:2", "pull": "missing", "command": ["httpd", "-f"], "entrypoint": None,
        "env": {"GREETING": "hello"}, "ports": [], "volumes": [], "network": "host",
        "restart": "unless-stopped", "labels": {},
        "healthcheck": {"cmd": "true", "interval": 1.0, "timeout": None, "retries": 8,
                        "start_period": None},
        "user": None, "workdir": None, "cpus": None, "memory": None, "stop_timeout": 1,
        "state": "started", "keep_images": None}
    spec.update(changes)
    return desired_container("web", spec, {}, "p")


WANTED = desired()


def container(name: str = "web", *, is_desired: bool = True, status: str = "running",
              health: str | None = "healthy") -> CurrentContainer:
    return CurrentContainer(
        f"id-{name}", name, {LABEL_HASH: WANTED.spec_hash if is_desired else "old-hash"},
        status, health, IMAGE if is_desired else OLD_IMAGE, "")


def aside(*, is_desired: bool = False, status: str = "exited") -> CurrentContainer:
    return container("web.play-old", is_desired=is_desired, status=status, health=None
                     if status != "running" else "healthy")


def steps(plan: SwapPlan) -> list[str]:
    return [str(command) for command in plan.commands]


SWAP_IN = ["create web", "wait web", "remove web.play-old", "prune"]
ROLLBACK = ["remove web", "rename web.play-old web", "start web", "wait web"]


# -- no swap was interrupted --

def test_settled_and_healthy_is_no_work() -> None:
    plan = plan_swap(WANTED, container(), None, IMAGE)
    assert (plan.state, plan.work, steps(plan)) == ("settled", "none", [])


def test_a_missing_container_is_created_and_waited_for() -> None:
    plan = plan_swap(WANTED, None, None, IMAGE)
    assert steps(plan) == ["deregister", "create web", "wait web"]
    assert not plan.rollback


def test_a_changed_container_is_swapped_keeping_the_old_one_for_rollback() -> None:
    plan = plan_swap(WANTED, container(is_desired=False), None, IMAGE)
    assert plan.work == "recreate"
    assert steps(plan) == ["deregister and drain", "stop web", "rename web web.play-old",
                           *SWAP_IN]
    assert [str(command) for command in plan.rollback] == ROLLBACK


def test_a_spec_change_without_a_new_image_prunes_nothing() -> None:
    changed = CurrentContainer("id", "web", {LABEL_HASH: "old-hash"}, "running", "healthy",
                               IMAGE, "")
    assert "prune" not in steps(plan_swap(WANTED, changed, None, IMAGE))


def test_old_container_stopped_but_not_renamed_is_swapped_as_usual() -> None:
    # killed between `docker stop` and `docker rename`
    plan = plan_swap(WANTED, container(is_desired=False, status="exited", health=None),
                     None, IMAGE)
    assert steps(plan)[1:3] == ["stop web", "rename web web.play-old"]
    assert plan.rollback


def test_a_half_created_container_is_removed_and_created_again() -> None:
    # a first deploy killed between `docker run`'s create and its start
    plan = plan_swap(WANTED, container(status="created", health=None), None, IMAGE)
    assert plan.state == "half-created"
    assert steps(plan) == ["deregister", "remove web", "create web", "wait web"]


def test_a_starting_container_is_waited_for_before_any_record_names_it() -> None:
    plan = plan_swap(WANTED, container(health="starting"), None, IMAGE)
    assert plan.state == "starting" and not plan.is_change
    assert steps(plan) == ["deregister", "wait web"]


def test_an_exited_desired_container_is_started_and_an_unhealthy_one_restarted() -> None:
    assert steps(plan_swap(WANTED, container(status="exited", health=None), None, IMAGE)) == [
        "deregister", "start web", "wait web"]
    assert steps(plan_swap(WANTED, container(health="unhealthy"), None, IMAGE)) == [
        "deregister and drain", "restart web", "wait web"]


# -- a swap was interrupted: <name>.play-old is there --

def test_old_renamed_aside_and_new_absent_creates_the_new_one() -> None:
    plan = plan_swap(WANTED, None, aside(), IMAGE)
    assert plan.state == "aside only"
    assert steps(plan) == ["deregister", *SWAP_IN]
    assert [str(command) for command in plan.rollback] == ROLLBACK


def test_only_the_aside_and_it_is_the_desired_spec_is_renamed_back_and_started() -> None:
    # e.g. a rerun of the old version after an update killed mid-swap
    plan = plan_swap(WANTED, None, aside(is_desired=True), IMAGE)
    assert plan.state == "restore"
    assert steps(plan) == ["deregister", "rename web.play-old web", "start web", "wait web"]
    assert not plan.rollback


def test_both_present_and_new_running_healthy_removes_the_old_one() -> None:
    plan = plan_swap(WANTED, container(), aside(), IMAGE)
    assert plan.state == "finish"
    assert steps(plan) == ["remove web.play-old", "prune"]


def test_both_present_and_new_still_starting_waits_then_removes_the_old_one() -> None:
    plan = plan_swap(WANTED, container(health="starting"), aside(), IMAGE)
    assert plan.state == "starting"
    assert steps(plan) == ["wait web", "remove web.play-old", "prune"]
    assert [str(command) for command in plan.rollback] == ROLLBACK


@pytest.mark.parametrize(("status", "health"), [("running", "unhealthy"), ("exited", None),
                                                ("dead", None), ("restarting", "starting")])
def test_both_present_and_new_failed_replaces_the_new_one_keeping_the_old(
        status: str, health: str | None) -> None:
    plan = plan_swap(WANTED, container(status=status, health=health), aside(), IMAGE)
    assert plan.state == "failed new"
    assert steps(plan) == ["deregister", "remove web", *SWAP_IN]
    assert [str(command) for command in plan.rollback] == ROLLBACK


def test_both_present_and_new_half_created_removes_it_and_creates_it_again() -> None:
    plan = plan_swap(WANTED, container(status="created", health=None), aside(), IMAGE)
    assert plan.state == "half-created"
    assert steps(plan) == ["deregister", "remove web", *SWAP_IN]
    assert plan.rollback


def test_a_half_created_new_one_beside_a_desired_aside_restores_the_aside() -> None:
    plan = plan_swap(WANTED, container(is_desired=False, status="created", health=None),
                     aside(is_desired=True), IMAGE)
    assert plan.state == "restore"
    assert steps(plan) == ["deregister", "remove web", "rename web.play-old web", "start web",
                           "wait web"]


def test_a_new_one_of_another_spec_beside_a_desired_aside_restores_the_aside() -> None:
    plan = plan_swap(WANTED, container(is_desired=False), aside(is_desired=True), IMAGE)
    assert plan.state == "restore"
    assert steps(plan) == ["deregister and drain", "remove web", "rename web.play-old web",
                           "start web", "wait web"]


def test_another_spec_serving_and_a_stale_aside_drops_the_stale_one_and_swaps() -> None:
    plan = plan_swap(WANTED, container(is_desired=False), aside(), IMAGE)
    assert plan.state == "stale aside"
    assert steps(plan) == ["remove web.play-old", "deregister and drain", "stop web",
                           "rename web web.play-old", *SWAP_IN]
    assert plan.rollback


def test_another_spec_failed_beside_the_aside_is_replaced() -> None:
    plan = plan_swap(WANTED, container(is_desired=False, status="exited", health=None),
                     aside(), IMAGE)
    assert plan.state == "failed new"
    assert steps(plan) == ["deregister", "remove web", *SWAP_IN]


# -- stopped and absent --

def test_a_stopped_container_is_recreated_without_being_started() -> None:
    stopped = desired(state="stopped")
    plan = plan_swap(stopped, container(is_desired=False, status="exited", health=None), None,
                     IMAGE)
    assert steps(plan) == ["deregister", "remove web", "create web"]


def test_wanted_stopped_after_an_interrupted_swap_keeps_one_container() -> None:
    stopped = desired(state="stopped")
    renamed_back = plan_swap(stopped, None, aside(), IMAGE)
    assert steps(renamed_back)[:1] == ["rename web.play-old web"]
    assert "create web" in steps(renamed_back) and "wait web" not in steps(renamed_back)
    both = plan_swap(stopped, container(status="exited", health=None), aside(), IMAGE)
    assert steps(both) == ["remove web.play-old"]


def test_absent_removes_the_container_and_the_one_aside() -> None:
    absent = desired(state="absent")
    assert steps(plan_swap(absent, container(), aside(), None)) == [
        "deregister and drain", "remove web", "remove web.play-old"]
    assert steps(plan_swap(absent, None, aside(), None)) == ["deregister", "remove web.play-old"]
    assert plan_swap(absent, None, None, None).work == "none"


# -- every state's plan ends converged: replaying a plan on the facts it leaves --

def _after(plan: SwapPlan, current: CurrentContainer | None,
           old: CurrentContainer | None) -> tuple[CurrentContainer | None,
                                                  CurrentContainer | None]:
    """What the host holds once a plan ran with every new container healthy."""
    by_name = {c.name: c for c in (current, old) if c is not None}
    for command in plan.commands:
        if command.op == "remove":
            by_name.pop(command.name, None)
        elif command.op == "rename":
            moved = by_name.pop(command.name)
            by_name[command.to] = CurrentContainer(moved.id, command.to, moved.labels,
                                                   moved.status, moved.health, moved.image_id,
                                                   "")
        elif command.op == "create":
            by_name[command.name] = container()
        elif command.op in ("start", "restart", "wait") and command.name in by_name:
            found = by_name[command.name]
            by_name[command.name] = CurrentContainer(found.id, found.name, found.labels,
                                                     "running", "healthy", found.image_id, "")
        elif command.op == "stop":
            found = by_name[command.name]
            by_name[command.name] = CurrentContainer(found.id, found.name, found.labels,
                                                     "exited", None, found.image_id, "")
    return by_name.get("web"), by_name.get("web.play-old")


STATES = [
    (None, None), (container(), None), (container(is_desired=False), None),
    (container(status="created", health=None), None), (container(health="starting"), None),
    (None, aside()), (None, aside(is_desired=True)), (container(), aside()),
    (container(health="starting"), aside()), (container(health="unhealthy"), aside()),
    (container(status="exited", health=None), aside()),
    (container(status="created", health=None), aside()),
    (container(is_desired=False), aside()), (container(is_desired=False), aside(is_desired=True)),
    (container(is_desired=False, status="exited", health=None), aside()),
]


@pytest.mark.parametrize(("current", "old"), STATES)
def test_every_state_converges_in_one_plan_and_then_needs_no_work(
        current: CurrentContainer | None, old: CurrentContainer | None) -> None:
    plan = plan_swap(WANTED, current, old, IMAGE)
    after, left_aside = _after(plan, current, old)
    assert left_aside is None, plan
    assert after is not None and after.labels[LABEL_HASH] == WANTED.spec_hash
    assert plan_swap(WANTED, after, None, IMAGE).work == "none", plan


def test_a_notified_container_with_a_reload_signal_gets_one_docker_kill_and_stays_registered(
        ) -> None:
    reloading = desired(reload_signal="SIGUSR2")
    found = container()
    found = CurrentContainer(found.id, found.name, {LABEL_HASH: reloading.spec_hash},
                             "running", "healthy", IMAGE, "")
    plan = plan_swap(reloading, found, None, IMAGE, is_notified=True)
    assert plan.work == "reload"
    assert [(c.op, c.name, c.to) for c in plan.commands] == [("signal", "web", "SIGUSR2")]
    assert not plan.rollback


def test_the_signal_reaches_docker_kill_as_arguments() -> None:
    from engine.containers.docker import _docker_line
    from engine.containers.swap import Command

    line = _docker_line(Command("signal", "web; rm -rf /", "SIGUSR2"), WANTED)
    assert line == "docker kill --signal SIGUSR2 -- 'web; rm -rf /' >/dev/null"
