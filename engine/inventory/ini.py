"""Read an INI inventory (`[group]`, `[group:vars]`, `[group:children]`) into a `Draft`.

Values are typed like Ansible does: each one goes through `ast.literal_eval`
when it is a Python literal (`8080` -> int, `True` -> bool, `[1, 2]` -> list) and
stays a string otherwise (`true`, `yes`, `web.lan` stay strings).
"""

from __future__ import annotations

import ast
import re
import shlex
import warnings
from pathlib import Path
from typing import Any

from engine.errors import InputError, Location, did_you_mean
from engine.inventory.draft import Draft, Origin
from engine.inventory.hostnames import parse_host_entry

_SECTION = re.compile(r"^\[(?P<group>[^:\]\s]+)(?::(?P<kind>\w*))?\]\s*(?:[#;].*)?$")
_GROUP_LINE = re.compile(r"^(?P<group>[^:\]\s]+)\s*(?:[#;].*)?$")
_KINDS = ("hosts", "children", "vars")
_LITERAL_TYPES = (int, float, bool, str, list, dict, type(None))


def parse_ini(text: str, path: Path, draft: Draft) -> None:
    file = str(path)
    known_before = set(draft.groups)
    declared: set[str] = set()  # groups with a [g] or [g:children] section in this file
    vars_sections: dict[str, Location] = {}
    children_listed: dict[str, tuple[str, Location]] = {}  # child -> (parent, where)
    group, kind = "ungrouped", "hosts"
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        where = Location(file, number)
        if line.startswith("["):
            group, kind = _parse_section(line, where)
            draft.group(group, where)
            if kind == "vars":
                vars_sections.setdefault(group, where)
            else:
                declared.add(group)
        elif kind == "hosts":
            _add_host_line(line, group, draft, Origin(where, path.parent))
        elif kind == "vars":
            key, value = _parse_var_line(line, where)
            draft.group(group, where).vars.set(key, value, Origin(where, path.parent))
        else:
            child = _parse_child_line(line, where)
            draft.add_child(group, child, where)
            children_listed.setdefault(child, (group, where))
    defined = known_before | declared
    for child, (parent, where) in children_listed.items():
        if child not in defined:
            # ansible-core warns that it cannot parse the file and keeps what it read, the
            # child left out; an empty group selects the same hosts (none of its own)
            draft.warn(f"Section [{parent}:children] includes undefined group: {child}; it is "
                       f"made an empty group (add a [{child}] section to give it hosts)"
                       + did_you_mean(child, defined - {child}), where)
    for name, where in vars_sections.items():
        if name not in defined and name not in children_listed:
            raise InputError(
                f"[{name}:vars] is for group {name!r}, which is not defined; "
                f"add a [{name}] section" + did_you_mean(name, defined),
                where,
            )


def _parse_section(line: str, where: Location) -> tuple[str, str]:
    match = _SECTION.match(line)
    if not match:
        raise InputError(
            f"invalid section header {line!r}; write [group], [group:vars] or "
            "[group:children], with no spaces in the name",
            where,
        )
    kind = match["kind"] if match["kind"] is not None else "hosts"
    if kind not in _KINDS:
        raise InputError(
            f"unknown section type {kind!r} in {line!r}; expected [group], "
            "[group:vars] or [group:children]" + did_you_mean(kind, _KINDS),
            where,
        )
    return match["group"], kind


def _add_host_line(line: str, group: str, draft: Draft, origin: Origin) -> None:
    where = origin.where
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError as error:
        raise InputError(f"cannot read host line {line!r}: {error}", where) from None
    if not tokens:
        return
    names, port = parse_host_entry(tokens[0], where)
    assignments: list[tuple[str, Any]] = []
    for token in tokens[1:]:
        key, sep, value = token.partition("=")
        if not sep or not key:
            raise InputError(
                f"expected key=value after host {tokens[0]!r}, got {token!r}; "
                'quote values with spaces: key="two words"',
                where,
            )
        assignments.append((key, parse_value(value)))
    for name in names:
        host = draft.add_host(name, group, where)
        if port is not None:
            host.vars.set("ansible_port", port, origin)
        for key, value in assignments:
            host.vars.set(key, value, origin)


def _parse_var_line(line: str, where: Location) -> tuple[str, Any]:
    key, sep, value = (part.strip() for part in line.partition("="))
    if not sep or not key:
        raise InputError(f"expected key=value in a :vars section, got {line!r}", where)
    return key, parse_value(value)


def _parse_child_line(line: str, where: Location) -> str:
    match = _GROUP_LINE.match(line)
    if not match:
        raise InputError(f"expected a group name in a :children section, got {line!r}", where)
    return match["group"]


def parse_value(text: str) -> Any:
    """A Python literal becomes its value (like Ansible's INI plugin); anything else stays text."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    # Tuples, sets, bytes and complex numbers have no YAML/JSON equivalent; keep the text.
    return value if isinstance(value, _LITERAL_TYPES) and _is_plain(value) else text


def _is_plain(value: Any) -> bool:
    if isinstance(value, list):
        return all(isinstance(item, _LITERAL_TYPES) and _is_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and isinstance(item, _LITERAL_TYPES) and _is_plain(item)
                   for key, item in value.items())
    return True
