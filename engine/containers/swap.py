"""The swap of one container on a host as a small state machine. What the facts round
found under the container's name and under `<name>.play-old` is classified into a state,
and each state maps to the plan of commands that converges it: a run killed between any
two commands of a swap leaves one of these states, and the next run recovers from it.
Pure: facts in, plan out; engine/containers/apply.py carries the plan out.

A swap keeps the old container (renamed `<name>.play-old`) until the new one is healthy,
and puts it back when the new one fails (rollback). The states an interrupted swap leaves:

| state           | on the host                                   | plan                      |
|-----------------|-----------------------------------------------|---------------------------|
| aside only      | old renamed aside, no new container           | create new, wait, drop old |
| restore         | the container aside is the desired one        | rename it back, start it  |
| half-created    | a container created, never started            | remove it, create anew    |
| starting        | new one running, its health check pending     | wait, drop old            |
| finish          | new one running and healthy, old still aside  | drop old                  |
| failed new      | new one exited, unhealthy, or of another spec | remove it, create anew    |
| stale aside     | another spec runs healthy, an older one aside | drop old, swap as usual   |

Every failure of the new container (its creation or its health wait) rolls back to the
container aside; a record only ever names a container once it is healthy (the service
step registers after the container step has waited for health).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from engine.containers.facts import CurrentContainer
from engine.containers.reconcile import decide
from engine.containers.spec import LABEL_HASH, OLD_SUFFIX, DesiredContainer

Op = Literal["deregister", "remove", "stop", "rename", "create", "start", "restart", "signal",
             "wait", "prune"]


@dataclass(frozen=True)
class Command:
    """One move of a plan. `create` makes the desired container under `name` (started
    unless the desired state is stopped); `deregister` takes this host's service records
    out of the registry (waiting their `drain` when `drain`); `prune` removes the old
    images of the container's repository; `signal` sends `to` (a signal name) to it."""

    op: Op
    name: str = ""
    to: str = ""            # rename: the new name; signal: the signal
    drain: bool = False     # deregister: wait the services' drain

    def __str__(self) -> str:
        if self.op == "deregister":
            return "deregister and drain" if self.drain else "deregister"
        return " ".join(filter(None, [self.op, self.name, self.to]))


@dataclass(frozen=True)
class SwapPlan:
    state: str                          # what was found: "settled", "aside only", ...
    work: str                           # what the run does about it, for the step's message
    commands: tuple[Command, ...] = ()
    rollback: tuple[Command, ...] = ()  # when the new container fails to create or be healthy
    reasons: tuple[str, ...] = ()

    @property
    def is_change(self) -> bool:
        return self.work != "none"

    def describe(self) -> str:
        return self.work + (f" ({'; '.join(self.reasons)})" if self.reasons else "")


def plan_swap(desired: DesiredContainer, current: CurrentContainer | None,
              aside: CurrentContainer | None, image_id: str | None,
              is_notified: bool = False) -> SwapPlan:
    """`current` is the container under the desired name, `aside` the one under
    `<name>.play-old`; `image_id` what the desired image resolves to on the host (None:
    not there, or not known under --check)."""
    if desired.state == "absent":
        return _remove_all(desired, current, aside)
    if aside is None:
        return _settled(desired, current, image_id, is_notified)
    if desired.state == "stopped":
        return _stopped_after_interruption(desired, current, aside, image_id)
    return _interrupted(desired, current, aside, image_id)


def fits(desired: DesiredContainer, container: CurrentContainer, image_id: str | None) -> bool:
    """The container is the desired one: same spec hash, same image (when known)."""
    return container.labels.get(LABEL_HASH) == desired.spec_hash and (
        image_id is None or container.image_id == image_id)


def is_serving(container: CurrentContainer) -> bool:
    return container.is_running and container.health in (None, "healthy")


def _aside(name: str) -> str:
    return name + OLD_SUFFIX


def _swap_in(name: str, is_new_image: bool) -> tuple[tuple[Command, ...], tuple[Command, ...]]:
    """With the old container aside: bring the new one up, then drop the old one (and,
    when the image changed, the repository's images beyond `keep_images`); the rollback
    puts the old one back."""
    aside = _aside(name)
    forward = (Command("create", name), Command("wait", name), Command("remove", aside),
               *([Command("prune")] if is_new_image else []))
    back = (Command("remove", name), Command("rename", aside, name), Command("start", name),
            Command("wait", name))
    return forward, back


def _remove_all(desired: DesiredContainer, current: CurrentContainer | None,
                aside: CurrentContainer | None) -> SwapPlan:
    found = [c for c in (current, aside) if c is not None]
    if not found:
        return SwapPlan("settled", "none")
    return SwapPlan("settled" if aside is None else "aside only", "remove",
                    (Command("deregister", drain=current is not None and current.is_running),
                     *(Command("remove", c.name) for c in found)))


def _settled(desired: DesiredContainer, current: CurrentContainer | None,
             image_id: str | None, is_notified: bool) -> SwapPlan:
    """No swap was interrupted: the least work between current and desired."""
    name = desired.name
    is_started = desired.state == "started"
    if current is not None and current.status == "created" and is_started:
        # `docker run` is create then start: a run killed between them leaves this
        return SwapPlan("half-created", "recreate",
                        (Command("deregister"), Command("remove", name), Command("create", name),
                         Command("wait", name)),
                        reasons=("it was created but never started",))
    change = decide(desired, current, image_id, is_notified)
    work, reasons = change.work, change.reasons
    if work == "none":
        if is_started and current is not None and current.health == "starting":
            # no record may name it before it is healthy (a restart policy restarted it)
            return SwapPlan("starting", "none", (Command("deregister"), Command("wait", name)))
        return SwapPlan("settled", "none")
    if work == "create":
        return SwapPlan("settled", work, (Command("deregister"), Command("create", name),
                                          *([Command("wait", name)] if is_started else [])),
                        reasons=reasons)
    if work == "start":
        return SwapPlan("settled", work, (Command("deregister"), Command("start", name),
                                          Command("wait", name)), reasons=reasons)
    if work == "stop":
        return SwapPlan("settled", work, (Command("deregister", drain=True),
                                          Command("stop", name)), reasons=reasons)
    if work == "reload":
        # it keeps serving, so its records stay: no deregister, no health wait
        assert desired.reload_signal is not None
        return SwapPlan("settled", work, (Command("signal", name, desired.reload_signal),),
                        reasons=reasons)
    if work == "restart":
        return SwapPlan("settled", work, (Command("deregister", drain=True),
                                          Command("restart", name), Command("wait", name)),
                        reasons=reasons)
    assert work == "recreate"
    assert current is not None
    if not is_started:  # a stopped container is replaced by one that is only created
        return SwapPlan("settled", work, (Command("deregister", drain=current.is_running),
                                          Command("remove", name), Command("create", name)),
                        reasons=reasons)
    forward, back = _swap_in(name, "its image changed" in reasons)
    return SwapPlan("settled", work,
                    (Command("deregister", drain=True), Command("stop", name),
                     Command("rename", name, _aside(name)), *forward),
                    back, reasons)


def _interrupted(desired: DesiredContainer, current: CurrentContainer | None,
                 aside: CurrentContainer, image_id: str | None) -> SwapPlan:
    """`<name>.play-old` is there: a run was killed mid-swap (or mid-rollback)."""
    name = desired.name
    forward, back = _swap_in(name, image_id is not None and aside.image_id != image_id)
    if current is None or current.status == "created":
        cleared = () if current is None else (Command("remove", name),)
        half = () if current is None else ("a half-created container",)
        if fits(desired, aside, image_id):
            return SwapPlan("restore", "start",
                            (Command("deregister"), *cleared, Command("rename", aside.name, name),
                             Command("start", name), Command("wait", name)),
                            reasons=("the container set aside by an interrupted run is the "
                                     "desired one", *half))
        return SwapPlan("half-created" if current else "aside only", "recreate",
                        (Command("deregister"), *cleared, *forward), back,
                        ("an interrupted run set the old container aside", *half))
    if fits(desired, current, image_id):
        if is_serving(current):
            return SwapPlan("finish", "finish",
                            (Command("remove", aside.name),
                             *([Command("prune")] if aside.image_id != current.image_id else [])),
                            reasons=("removed the old container an interrupted run left",))
        if current.is_running and current.health == "starting":
            return SwapPlan("starting", "finish", forward[1:], back,
                            ("an interrupted run started it",))
        return SwapPlan("failed new", "recreate",
                        (Command("deregister"), Command("remove", name), *forward), back,
                        (f"the new container an interrupted run started is {_condition(current)}",))
    if fits(desired, aside, image_id):
        return SwapPlan("restore", "start",
                        (Command("deregister", drain=current.is_running), Command("remove", name),
                         Command("rename", aside.name, name), Command("start", name),
                         Command("wait", name)),
                        reasons=("the container set aside by an interrupted run is the desired "
                                 "one",))
    if is_serving(current):
        return SwapPlan("stale aside", "recreate",
                        (Command("remove", aside.name), Command("deregister", drain=True),
                         Command("stop", name), Command("rename", name, aside.name), *forward),
                        back, ("its spec changed", "an older container was left aside"))
    return SwapPlan("failed new", "recreate",
                    (Command("deregister"), Command("remove", name), *forward), back,
                    (f"an interrupted run left another spec {_condition(current)}",))


def _stopped_after_interruption(desired: DesiredContainer, current: CurrentContainer | None,
                                aside: CurrentContainer, image_id: str | None) -> SwapPlan:
    """Wanted stopped: no rollback to keep. The container under the name (or else the one
    aside, renamed back) is settled as usual, the other one goes."""
    if current is not None:
        first, kept = Command("remove", aside.name), current
    else:
        first, kept = Command("rename", aside.name, desired.name), dataclasses.replace(
            aside, name=desired.name)
    settled = _settled(desired, kept, image_id, is_notified=False)
    return SwapPlan("aside only", settled.work if settled.is_change else "finish",
                    (first, *settled.commands), settled.rollback,
                    ("an interrupted run left the old container aside", *settled.reasons))


def _condition(container: CurrentContainer) -> str:
    if container.is_running and container.health:
        return container.health
    return container.status
