"""Ansible's roles expanded into the play's tasks and handlers: `roles:` entries,
`import_role` / `include_role`, a role's dependencies, defaults and vars, found in the
standard layout along `roles_path`. Reference: ansible-core's playbook/role/.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.errors import InputError, Location
from engine.playbook.expansion import (
    COMING_FROM_ANSIBLE,
    Context,
    ExpandFile,
    Expansion,
    TaskEntry,
    refuse_task_only,
    short_name,
)
from engine.playbook.load_time import literal_name
from engine.schema import Fields, type_name
from engine.yamlfile import derived_map, load_yaml_file, where

INCLUDE_ROLE = ("import_role", "include_role")
INCLUDE_ROLE_KEYS = ("name", "tasks_from", "vars_from", "defaults_from", "handlers_from",
                     "public", "allow_duplicates")
ROLE_KEYWORDS = ("when", "tags", "vars", "become", "become_user", "ignore_errors", "no_log",
                 "delegate_to", "run_once", "environment", "remote_user", "any_errors_fatal")
ROLES_PATH_VARIABLES = ("PLAY_ROLES_PATH", "ANSIBLE_ROLES_PATH")


def roles_path(playbook: Path) -> list[Path]:
    """Where roles are looked up: `roles/` beside the playbook, then PLAY_ROLES_PATH (or
    ANSIBLE_ROLES_PATH), colon-separated, then the playbook's own folder."""
    folders = [playbook.parent / "roles"]
    for variable in ROLES_PATH_VARIABLES:
        value = os.environ.get(variable)
        if value:
            folders += [Path(part).expanduser() for part in value.split(":") if part]
            break
    return [*folders, playbook.parent]


def find_role(playbook: Path, name: str, at: Location) -> Path:
    if name.count(".") >= 2 and "/" not in name:
        raise InputError(f"role {name!r} is in a collection, which play does not install; "
                         f"put the role's folder under roles/ beside the playbook or in "
                         f"PLAY_ROLES_PATH and name it by its folder ({COMING_FROM_ANSIBLE})",
                         at)
    candidate = Path(name).expanduser()
    folders = [candidate] if candidate.is_absolute() else [
        folder / name for folder in roles_path(playbook)]
    for folder in folders:
        if any((folder / part).is_dir() for part in ("tasks", "meta", "handlers")):
            return folder.resolve()
    looked = ", ".join(str(folder) for folder in folders)
    raise InputError(f"role {name!r} not found (looked in: {looked}); roles are found in "
                     "roles/ beside the playbook and in PLAY_ROLES_PATH (colon-separated)", at)


def _role_file(role: Path, folder: str, name: str = "main") -> Path | None:
    for candidate in (role / folder / f"{name}.yml", role / folder / f"{name}.yaml",
                      role / folder / name):
        if candidate.is_file():
            return candidate
    return None


def _role_vars(role: Path, folder: str, name: str = "main") -> dict[str, Any]:
    found = _role_file(role, folder, name)
    if found is None:
        return {}
    document = load_yaml_file(found)
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise InputError(f"a role's {folder} file is a mapping of variables, not "
                         f"{type_name(document)}", where(document, default=Location(str(found))))
    return dict(document)


def expand_role_entry(expansion: Expansion, entry: Any, at: Location,
                      previous: tuple[str, ...], expand_file: ExpandFile) -> tuple[str, ...]:
    """One item of `roles:`: a name, or `- role: name` with keywords and params. A role's
    tasks and handlers files are expanded by `expand_file` (engine/playbook/structure.py)."""
    if isinstance(entry, str):
        entry = derived_map({"role": entry}, None, at)
    fields = Fields(entry, "a role entry", at)
    key = "role" if fields.has("role") else "name"
    name = fields.string(key, required=True)
    name = literal_name(expansion.variables, name, "role", fields.at(key))
    # Ansible's old style: keys that are no keyword are the role's parameters
    params = {param: value for param, value in fields.mapping.items()
              if param not in (key, *ROLE_KEYWORDS)}
    inner = Context().inside(fields, (key, *params))
    return _expand_role(expansion, name, fields.at(key), inner, params, {}, previous,
                        expand_file, deduplicate=True)


def expand_include_role(expansion: Expansion, raw: dict[str, Any], key: str, at: Location,
                        context: Context, into: list[TaskEntry], previous: tuple[str, ...],
                        expand_file: ExpandFile) -> tuple[str, ...]:
    fields = Fields(raw, f"an {short_name(key)}", at)
    refuse_task_only(fields, f"an {short_name(key)}")
    arguments = Fields(fields.raw(key), f"the {short_name(key)} arguments", fields.at(key))
    arguments.reject_unknown(INCLUDE_ROLE_KEYS)
    name = literal_name(expansion.variables, arguments.string("name", required=True), key,
                        arguments.at("name"))
    files = {part: arguments.string(f"{part}_from") or "main"
             for part in ("tasks", "vars", "defaults", "handlers")}
    inner = context.inside(fields, (key, "name"))
    if into is expansion.handlers:
        raise InputError(f"{short_name(key)} in handlers: list the role's handlers in its "
                         "handlers/main.yml and import the role in the play's tasks",
                         fields.at(key))
    return _expand_role(expansion, name, arguments.at("name"), inner, {}, files, previous,
                        expand_file, deduplicate=False)


def _expand_role(expansion: Expansion, name: str, at: Location, context: Context,
                 params: Mapping[str, Any], files: Mapping[str, str],
                 previous: tuple[str, ...], expand_file: ExpandFile,
                 deduplicate: bool) -> tuple[str, ...]:
    """A role's dependencies, then its tasks; its handlers join the play's. As in
    Ansible, a role listed twice with the same parameters runs once."""
    role = find_role(expansion.playbook, name, at)
    key = (role, repr(sorted((str(k), repr(v)) for k, v in {**context.vars, **params}.items())))
    meta = _role_vars(role, "meta")
    if deduplicate and key in expansion.roles_run and not meta.get("allow_duplicates"):
        return previous
    expansion.roles_run.add(key)
    if role in expansion.files:
        raise InputError(f"role {name!r} depends on itself through its dependencies", at)
    outer_files = expansion.files
    expansion.files = (*outer_files, role)
    try:
        previous = _expand_dependencies(expansion, role, meta, context, previous,
                                        expand_file)
    finally:
        expansion.files = outer_files
    # a role run again (other parameters, or imported twice) gets its run's number, so that
    # its tasks' names stay unique in the play: `users (2) : Accounts`
    runs = expansion.role_runs[role] = expansion.role_runs.get(role, 0) + 1
    short = role.name if runs == 1 else f"{role.name} ({runs})"
    defaults = _role_vars(role, "defaults", files.get("defaults", "main"))
    own = _role_vars(role, "vars", files.get("vars", "main"))
    inner = replace(context, prefix=f"{short} : ", role=role, defaults=defaults,
                    vars={**own, **context.vars, **params})
    tasks = _role_file(role, "tasks", files.get("tasks", "main"))
    if files.get("tasks", "main") != "main" and tasks is None:
        raise InputError(f"role {name!r} has no tasks file {files['tasks']!r} in {role}/tasks",
                         at)
    exits = previous
    if tasks is not None:
        exits = expand_file(expansion, tasks, at, inner, expansion.tasks, previous)
    handlers = _role_file(role, "handlers", files.get("handlers", "main"))
    if handlers is not None:
        kind, expansion.kind = expansion.kind, "handler"
        try:
            expand_file(expansion, handlers, at, inner, expansion.handlers, ())
        finally:
            expansion.kind = kind
    return exits


def _expand_dependencies(expansion: Expansion, role: Path, meta: Mapping[str, Any],
                         context: Context, previous: tuple[str, ...],
                         expand_file: ExpandFile) -> tuple[str, ...]:
    dependencies = meta.get("dependencies") or []
    at = where(meta, "dependencies", Location(str(role / "meta" / "main.yml"), 1))
    if not isinstance(dependencies, list):
        raise InputError("'dependencies' of a role's meta/main.yml is a list of roles", at)
    for position, dependency in enumerate(dependencies):
        dependency_at = where(dependencies, position, at)
        if isinstance(dependency, str):
            dependency = derived_map({"role": dependency}, None, dependency_at)
        fields = Fields(dependency, "a role dependency", dependency_at)
        key = "role" if fields.has("role") else "name"
        name = str(fields.string(key, required=True))
        params = {param: value for param, value in fields.mapping.items()
                  if param not in (key, *ROLE_KEYWORDS)}
        # a dependency keeps its dependant's conditions and tags, not its vars
        inner = replace(context, vars={}).inside(fields, (key, *params))
        previous = _expand_role(expansion, name, fields.at(key), inner, params, {}, previous,
                                expand_file, deduplicate=True)
    return previous
