"""Render what must be known before any host is planned: `serial`, `replicas` and
`remote_user`, which may be templates of play vars, vars_files and `-e` (scaling with
`-e api_replicas=3`), never of host variables (batches and placement come first).

Runs once the extra vars are parsed, before batches and the graph; returns a playbook with
those values literal, checked as the loader checks literal ones.
"""

from __future__ import annotations

import dataclasses
import re
from collections import ChainMap
from collections.abc import Mapping
from typing import Any

from engine.errors import InputError, Location
from engine.playbook.model import ContainerSpec, Play, Playbook, TaskSpec
from engine.templating import is_template, render, template_errors
from engine.variables import Scope, load_vars_files


def resolve_play_templates(playbook: Playbook, extra_vars: Mapping[str, Any]) -> Playbook:
    if not any(_has_template(play) for play in playbook.plays):
        return playbook
    return dataclasses.replace(playbook, plays=tuple(
        _resolved(play, extra_vars) if _has_template(play) else play
        for play in playbook.plays))


def _has_template(play: Play) -> bool:
    return any(is_template(size) for size in play.serial) or is_template(play.remote_user) or any(
        is_template(step.body.replicas) for step in play.steps
        if isinstance(step.body, ContainerSpec)) or any(
        is_template(step.body.remote_user) for step in play.steps
        if isinstance(step.body, TaskSpec))


def _resolved(play: Play, extra_vars: Mapping[str, Any]) -> Play:
    scope = Scope(ChainMap(dict(extra_vars), load_vars_files(play.vars_files), dict(play.vars)))
    serial = tuple(checked_serial(_render(size, scope, "serial", play.source), play.source)
                   for size in play.serial)
    steps = []
    for step in play.steps:
        body = step.body
        if isinstance(body, ContainerSpec) and is_template(body.replicas):
            body = dataclasses.replace(body, replicas=checked_replicas(
                _render(body.replicas, scope, "replicas", step.source), step.source,
                f"container {step.name!r}"))
        elif isinstance(body, TaskSpec) and is_template(body.remote_user):
            body = dataclasses.replace(body, remote_user=_user(
                _render(body.remote_user, scope, "remote_user", step.source), step.source))
        steps.append(dataclasses.replace(step, body=body) if body is not step.body else step)
    remote_user = play.remote_user
    if is_template(remote_user):
        remote_user = _user(_render(remote_user, scope, "remote_user", play.source),
                            play.source)
    return dataclasses.replace(play, serial=serial, steps=tuple(steps), remote_user=remote_user)


def _render(value: Any, scope: Scope, keyword: str, at: Location) -> Any:
    if not is_template(value):
        return value
    try:
        rendered = render(value, scope)
        str(rendered)  # a bare `{{ n }}` of an undefined n gives Undefined, which raises here
        return rendered
    except template_errors(InputError, ValueError, TypeError) as error:
        raise InputError(f"{keyword} {value!r} cannot be rendered: "
                         f"{getattr(error, 'message', error)}; {keyword} is decided before "
                         "the run, from play vars, vars_files and -e only (not host vars)",
                         at) from None


def checked_serial(size: Any, at: Location) -> Any:
    """A batch size: a whole number of hosts (1, 2, ...) or a percentage such as "30%"."""
    if isinstance(size, str) and re.fullmatch(r"\s*[0-9]+\s*", size):
        size = int(size)  # a rendered `-e n=2` is text
    is_count = isinstance(size, int) and not isinstance(size, bool) and size > 0
    # ASCII digits only: str.isdigit() accepts '²', which int() refuses
    is_percent = isinstance(size, str) and re.fullmatch(r"[0-9]{1,3}%", size) is not None \
        and 0 < int(size[:-1]) <= 100
    if not (is_count or is_percent):
        raise InputError(f"'serial' must be a number of hosts (1, 2, ...), a percentage "
                         f"such as \"30%\", or a list of those, not {size!r}", at)
    return size


def checked_replicas(replicas: Any, at: Location, what: str = "a container") -> int:
    if isinstance(replicas, str) and re.fullmatch(r"\s*[0-9]+\s*", replicas):
        replicas = int(replicas)
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise InputError(f"'replicas' of {what} must be a whole number of at least 1, not "
                         f"{replicas!r}", at)
    return replicas


def _user(user: Any, at: Location) -> str:
    if not isinstance(user, str) or not user.strip():
        raise InputError(f"'remote_user' must be a user name, not {user!r}", at)
    return user
