"""Compare one desired container with what the host runs and decide the least work:
nothing, start, stop, restart, reload (a signal), create, recreate or remove. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from engine.containers.facts import CurrentContainer
from engine.containers.spec import LABEL_HASH, DesiredContainer

Work = Literal["none", "create", "recreate", "start", "stop", "restart", "reload", "remove"]


@dataclass(frozen=True)
class ContainerChange:
    work: Work
    reasons: tuple[str, ...] = ()

    @property
    def is_needed(self) -> bool:
        return self.work != "none"

    def describe(self) -> str:
        return self.work + (f" ({'; '.join(self.reasons)})" if self.reasons else "")


def decide(desired: DesiredContainer, current: CurrentContainer | None,
           image_id: str | None, is_notified: bool = False) -> ContainerChange:
    """`image_id` is what the desired image resolves to on the host (None: not there)."""
    if desired.state == "absent":
        return ContainerChange("remove") if current else ContainerChange("none")
    if current is None:
        return ContainerChange("create", ("no such container",))
    reasons = []
    if current.labels.get(LABEL_HASH) != desired.spec_hash:
        reasons.append("its spec changed")
    if image_id is not None and current.image_id != image_id:
        reasons.append("its image changed")
    if reasons:
        return ContainerChange("recreate", tuple(reasons))
    if desired.state == "stopped":
        return ContainerChange("stop") if current.is_running else ContainerChange("none")
    if not current.is_running:
        return ContainerChange("start", (f"it is {current.status}",))
    if current.health == "unhealthy":
        return ContainerChange("restart", ("it is unhealthy",))
    if is_notified:
        # a server that rereads its configuration on a signal keeps its connections
        if desired.reload_signal is not None:
            return ContainerChange("reload", (f"notified: {desired.reload_signal}",))
        return ContainerChange("restart", ("notified",))
    return ContainerChange("none")
