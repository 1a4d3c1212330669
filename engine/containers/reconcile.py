"""Compare one desired container with what the host runs and decide the least work:
nothing, start, stop, restart, reload (a signal), create, recreate or remove. Pure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from engine.containers.facts import CurrentContainer
from engine.containers.spec import (
    LABEL_HASH,
    LABEL_SPEC,
    DesiredContainer,
    env_value_digest,
    spec_record,
)

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
        reasons += spec_changes(desired, current.labels.get(LABEL_SPEC)) or ["its spec changed"]
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


def spec_changes(desired: DesiredContainer, stored: str | None) -> list[str]:
    """Which fields differ between the spec a container was made from (its `play.spec`
    label) and the desired one: `image: api:1 -> api:2`, `env.LOG_LEVEL: changed` (an env
    value is never shown, only whether its digest differs). Empty when the container has
    no readable label (made by an older play) or no listed field differs."""
    try:
        before = json.loads(stored) if stored else None
    except ValueError:
        return []
    if not isinstance(before, dict):
        return []
    after = spec_record(desired, with_env=False)
    changes: list[str] = []
    for name in dict.fromkeys([*after, *before]):
        if name == "env":
            continue
        old, new = before.get(name), after.get(name)
        if isinstance(old, dict) and isinstance(new, dict) and not _is_digest(old) \
                and not _is_digest(new):
            changes += [_change(f"{name}.{key}", old.get(key), new.get(key))
                        for key in sorted({*old, *new}) if old.get(key) != new.get(key)]
        elif old != new:
            changes.append(_change(name, old, new))
    return changes + _env_changes(desired, before.get("env") or {})


def _env_changes(desired: DesiredContainer, before: Any) -> list[str]:
    if not isinstance(before, dict):
        return []
    env = dict(desired.env)
    changes = []
    for key in sorted({*before, *env}):
        if key not in env:
            changes.append(f"env.{key}: removed")
        elif key not in before:
            changes.append(f"env.{key}: added")
        elif before[key] != env_value_digest(desired.name, key, env[key]):
            changes.append(f"env.{key}: changed")
    return changes


def _is_digest(value: Any) -> bool:
    """A value too long for the label, kept as its digest (spec.SPEC_VALUE_MAX)."""
    return isinstance(value, dict) and list(value) == ["sha256"]


def _change(name: str, old: Any, new: Any) -> str:
    if _is_digest(old) or _is_digest(new):
        return f"{name}: changed"
    return f"{name}: {_shown(old)} -> {_shown(new)}"


def _shown(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))
