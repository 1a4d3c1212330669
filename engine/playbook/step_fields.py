"""What the parsers of every kind of step share (engine/playbook/task_parser.py,
container_parser.py): a step's name, its conditions, a path beside the playbook, and a value
Docker, POSIX or the registry would refuse reported at its own line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.errors import InputError, Location
from engine.playbook.values import Problem
from engine.schema import Fields, type_name
from engine.yamlfile import where


def step_name(fields: Fields) -> str:
    name = fields.string("name", required=True)
    if not name.strip():
        raise InputError(f"{fields.what} needs a non-empty 'name'", fields.at("name"))
    return str(name)


def condition(fields: Fields, key: str) -> Any:
    """when / until / changed_when / failed_when: a Jinja2 expression, a boolean, or a list of
    expressions that must all hold (as in Ansible)."""
    value = fields.raw(key)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, list) and all(isinstance(item, (str, bool)) for item in value):
        return " and ".join(f"({item})" for item in value)
    raise InputError(f"{key!r} of {fields.what} must be an expression such as "
                     f"\"result.rc == 0\", not {type_name(value)}", fields.at(key))


def beside_playbook(playbook: Path, relative: str) -> Path:
    candidate = Path(relative).expanduser()
    return candidate if candidate.is_absolute() else (playbook.parent / candidate).resolve()


def refuse(what: str, problems: Iterator[Problem], raw: Any, at: Location) -> None:
    """The first value Docker, POSIX or the registry would refuse, at its own line."""
    for path, problem in problems:
        for key in path:
            at = where(raw, key, at)
            raw = raw[key] if isinstance(raw, (dict, list)) and _has(raw, key) else None
        raise InputError(f"{what}: {problem}", at)


def _has(container: dict[Any, Any] | list[Any], key: Any) -> bool:
    if isinstance(container, dict):
        return key in container
    return isinstance(key, int) and 0 <= key < len(container)
