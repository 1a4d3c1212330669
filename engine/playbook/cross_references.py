"""Check the names that point from one step or play to another, and resolve them.

`after:` (steps and plays), `notify:`, `depends_on:` and a service's `container:`
must name something that exists; a typo fails here with a did-you-mean, before
anything runs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from engine.errors import InputError, did_you_mean
from engine.playbook.model import ContainerSpec, Play, Playbook, ServiceSpec, Step, TaskSpec
from engine.yamlfile import where


def check_references(playbook: Playbook, document: list[Any]) -> Playbook:
    """Validate every cross reference; return the playbook with `after:` resolved to ids."""
    play_index = _unique_play_names(playbook)
    containers = {step.name for play in playbook.plays for step in play.steps_of("container")}
    plays = []
    for play, raw in zip(playbook.plays, document, strict=True):
        _unique_step_names(play)
        steps = tuple(_check_step(play, step, containers) for step in play.steps)
        plays.append(dataclasses.replace(
            play, steps=steps, after=_play_after(play, raw, play_index)))
    return dataclasses.replace(playbook, plays=tuple(plays))


def _unique_play_names(playbook: Playbook) -> dict[str, int]:
    seen: dict[str, int] = {}
    for play in playbook.plays:
        if play.name in seen:
            first = playbook.plays[seen[play.name]].source
            raise InputError(f"two plays are named {play.name!r} (the other is at {first}); "
                             "give each play its own name", play.source)
        seen[play.name] = play.index
    return seen


def _unique_step_names(play: Play) -> None:
    seen: dict[tuple[str, str], Step] = {}
    for step in play.steps:
        other = seen.setdefault((step.kind, step.name), step)
        if other is not step:
            raise InputError(f"two {step.kind}s in play {play.name!r} are named {step.name!r} "
                             f"(the other is at {other.source}); names must be unique", step.source)


def _play_after(play: Play, raw: Any, play_index: dict[str, int]) -> tuple[int, ...] | None:
    if not isinstance(raw, dict) or "after" not in raw:
        return None
    names = raw["after"]
    names = [names] if isinstance(names, str) else names
    at = where(raw, "after", play.source)
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise InputError("'after' of a play must be a list of play names ([] to start at once)",
                         at)
    indexes = []
    for name in names:
        if name not in play_index:
            raise InputError(f"play {play.name!r} waits for play {name!r}, which does not exist"
                             f"{did_you_mean(name, play_index)}", at)
        if name == play.name:
            raise InputError(f"play {play.name!r} cannot wait for itself", at)
        indexes.append(play_index[name])
    return tuple(indexes)


def _check_step(play: Play, step: Step, containers: set[str]) -> Step:
    body = step.body
    if isinstance(body, TaskSpec):
        _check_notify(play, step, body)
    elif isinstance(body, ContainerSpec):
        for name in body.depends_on:
            if name not in containers:
                raise InputError(f"container {step.name!r} depends on container {name!r}, which "
                                 f"no play defines{did_you_mean(name, containers)}", step.source)
            if name == step.name:
                raise InputError(f"container {step.name!r} cannot depend on itself", step.source)
    elif isinstance(body, ServiceSpec):
        own = {container.name for container in play.steps_of("container")}
        if body.container not in own:
            hint = did_you_mean(body.container, own)
            raise InputError(f"service {step.name!r} is for container {body.container!r}, which "
                             f"play {play.name!r} does not define{hint}", step.source)
    return dataclasses.replace(step, after=tuple(_resolve_after(play, step, name)
                                                 for name in step.after))


def _check_notify(play: Play, step: Step, body: TaskSpec) -> None:
    targets = {s.name for s in play.steps if s.kind in ("handler", "container")}
    for name in body.notify:
        if name not in targets:
            raise InputError(f"{step.kind} {step.name!r} notifies {name!r}, which is neither a "
                             f"handler nor a container of play {play.name!r}"
                             f"{did_you_mean(name, targets)}", step.source)


def _resolve_after(play: Play, step: Step, reference: str) -> str:
    """`after: [x]` names a step of the same play; `container:x` picks a kind when the same
    name is used by several kinds (a container and its service are often both `api`)."""
    kind, _, name = reference.rpartition(":")
    candidates = [s for s in play.steps if s.name == name and (not kind or s.kind == kind)
                  and s.kind != "handler"]
    if len(candidates) > 1:
        options = " or ".join(f"'{s.kind}:{name}'" for s in candidates)
        raise InputError(f"{step.label!r} waits for {reference!r}, which is ambiguous in play "
                         f"{play.name!r}; write {options}", step.source)
    if not candidates:
        names = {s.name for s in play.steps if s.kind != "handler"}
        raise InputError(f"{step.label!r} waits for {reference!r}, which is not a step of play "
                         f"{play.name!r}{did_you_mean(name, names)}", step.source)
    if candidates[0] is step:
        raise InputError(f"{step.label!r} cannot wait for itself", step.source)
    return candidates[0].id

