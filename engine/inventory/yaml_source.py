"""Read a YAML (or JSON) inventory into a `Draft`.

Top-level keys are groups (usually just `all`); each group may have `hosts:`
(name -> vars or empty), `children:` (name -> group) and `vars:`. What Ansible's
YAML plugin skips with a warning (an unknown key in a group, an empty file) is
skipped with the same warning, and a did-you-mean: `host:` for `hosts:` drops every
host under it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import InputError, Location, did_you_mean
from engine.inventory.draft import Draft, Origin
from engine.inventory.hostnames import parse_host_entry
from engine.yamlfile import YamlMap, where

_GROUP_KEYS = ("hosts", "children", "vars")


def parse_yaml_inventory(document: Any, path: Path, draft: Draft) -> None:
    file_where = Location(str(path), 1)
    if document is None:
        draft.warn("Parsed empty YAML file: it adds no hosts (Ansible skips it too); write "
                   "`all:` with `hosts:` under it", file_where)
        return
    if not isinstance(document, YamlMap):
        raise InputError("a YAML inventory must be a mapping of group names, e.g. "
                         "`all:` with `hosts:` and `children:` under it", where(document,
                                                                                 default=file_where))
    if "plugin" in document:
        raise InputError("inventory plugins (`plugin:`) are not supported; list the hosts "
                         "in a YAML or INI inventory", document.where("plugin"))
    for name, body in document.items():
        _parse_group(name, body, document.where(name), path, draft)


def _parse_group(name: str, body: Any, at: Location, path: Path, draft: Draft) -> None:
    draft.group(name, at)
    if body is None:
        return
    if not isinstance(body, YamlMap):
        raise InputError(f"group {name!r} must be a mapping with hosts:, children: or vars:, "
                         f"got {kind_of(body)}", at)
    for key in body:  # in written order, so hosts are defined in the order they appear
        if key not in _GROUP_KEYS:
            draft.warn(f"Skipping unexpected key ({key}) in group ({name}), only \"vars\", "
                       f"\"children\" and \"hosts\" are valid{did_you_mean(key, _GROUP_KEYS)}",
                       body.where(key))
            continue
        section = _section(body, key, name)
        for entry, value in section.items():
            entry_at = section.where(entry)
            if key == "hosts":
                _add_hosts(entry, value, name, entry_at, path, draft)
            elif key == "children":
                draft.add_child(name, entry, entry_at)
                _parse_group(entry, value, entry_at, path, draft)
            else:
                draft.group(name, at).vars.set(entry, value, Origin(entry_at, path.parent))


def _section(body: YamlMap, key: str, group: str) -> YamlMap:
    """A group's hosts:/children:/vars: as a mapping; a lone name `n` becomes {n: None}."""
    value = body.get(key)
    section = YamlMap()
    section.file, section.line, section.key_lines = body.file, body.where(key).line, {}
    if isinstance(value, str) and key != "vars":
        section[value] = None
        section.key_lines[value] = section.line
        return section
    if value is None:
        return section
    if not isinstance(value, YamlMap):
        hint = "name: {vars}" if key != "vars" else "key: value"
        raise InputError(f"{key}: of group {group!r} must be a mapping ({hint}), "
                         f"got {kind_of(value)}", body.where(key))
    return value


def _add_hosts(entry: str, host_vars: Any, group: str, at: Location, path: Path,
               draft: Draft) -> None:
    if host_vars is not None and not isinstance(host_vars, YamlMap):
        raise InputError(f"host {entry!r} must map to its variables (key: value) or nothing, "
                         f"got {kind_of(host_vars)}", at)
    names, port = parse_host_entry(entry, at)
    for name in names:
        host = draft.add_host(name, group, at)
        if port is not None:
            host.vars.set("ansible_port", port, Origin(at, path.parent))
        if host_vars is not None:
            for key, value in host_vars.items():
                host.vars.set(key, value, Origin(host_vars.where(key), path.parent))


def kind_of(value: Any) -> str:
    """How to name a wrong value in a message: 'a list', "int 3"."""
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"
