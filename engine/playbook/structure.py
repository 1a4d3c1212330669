"""Ansible's structure, expanded at load into the play's ordinary task list: `pre_tasks`,
`roles:`, `import_tasks` / `include_tasks`, `block` / `rescue` / `always`, and the handlers
(roles in engine/playbook/roles.py, the flushes and notify names in handlers.py).

The loader parses each expanded task as any other, so a task keeps its own file:line (a
role's task points into the role's file) and its place in the play's listed order; what a
block or role gives its tasks (keywords, conditions, tags, vars) travels in a `Context`
(engine/playbook/expansion.py). Reference semantics: ansible-core's playbook/block.py,
playbook/helpers.py, playbook/role/.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.errors import InputError, Location
from engine.playbook.expansion import (
    COMING_FROM_ANSIBLE,
    Context,
    Expansion,
    TaskEntry,
    refuse_task_only,
    short_name,
)
from engine.playbook.handlers import insert_flush
from engine.playbook.keywords import LOOP_KEYS, merged_environment, read_loop
from engine.playbook.load_time import literal_name, literal_vars, load_time_items
from engine.playbook.model import BlockSpec, step_id
from engine.playbook.roles import INCLUDE_ROLE, expand_include_role, expand_role_entry
from engine.schema import Fields, type_name
from engine.yamlfile import derived_map, load_yaml_file, where

# the keys of a block that are its own; every other keyword is given to its tasks
BLOCK_KEYS = ("block", "rescue", "always", "name")
INCLUDE_TASKS = ("import_tasks", "include_tasks", "include")
COLLECTION_PREFIXES = ("ansible.builtin.", "ansible.legacy.")


def expand_play(fields: Fields, path: Path, play: int, extra_vars: Mapping[str, Any],
                first: tuple[str, ...] = ()) -> Expansion:
    """Ansible's order: pre_tasks, roles (each after its dependencies), tasks, post_tasks;
    the roles' handlers before the play's own. `first`: the steps before all of them (the
    facts task)."""
    variables = {**literal_vars(fields.mapping_of("vars")), **extra_vars}
    expansion = Expansion(play, path, variables)
    exits = _expand_section(expansion, fields, "pre_tasks", path, first)
    # Ansible flushes the handlers after pre_tasks and after roles and tasks too: where,
    # kept until the play's handlers (its own and its roles') are known
    flushes = [("pre_tasks", len(expansion.tasks), exits)] if fields.raw("pre_tasks") else []
    roles = fields.raw("roles")
    if roles is not None:
        if not isinstance(roles, list):
            raise InputError(f"'roles' of a play must be a list of role names or "
                             f"'- role: name' entries, not {type_name(roles)}",
                             fields.at("roles"))
        for position, entry in enumerate(roles):
            exits = expand_role_entry(expansion, entry, where(roles, position, fields.at("roles")),
                                      exits, _expand_file)
    exits = _expand_section(expansion, fields, "tasks", path, exits)
    if fields.raw("roles") or fields.raw("tasks"):
        flushes.append(("tasks", len(expansion.tasks), exits))
    exits = _expand_section(expansion, fields, "post_tasks", path, exits)
    expansion.kind = "handler"
    handlers = fields.raw("handlers")
    if handlers is not None:
        _check_list(handlers, "handlers", fields.at("handlers"))
        _expand_list(expansion, handlers, path, Context(), expansion.handlers, ())
    for section, index, before in reversed(flushes):  # the later first: indexes stay true
        if expansion.handlers and index < len(expansion.tasks):
            insert_flush(expansion, section, index, before)
    if expansion.handlers and expansion.tasks and \
            exits != (step_id(play, "task", expansion.tasks[-1].name),):
        expansion.sequence.append((exits, expansion.step_id(expansion.handlers[0])))
    return expansion


def _expand_section(expansion: Expansion, fields: Fields, key: str, path: Path,
                    previous: tuple[str, ...]) -> tuple[str, ...]:
    items = fields.raw(key)
    if items is None:
        return previous
    _check_list(items, key, fields.at(key))
    return _expand_list(expansion, items, path, Context(), expansion.tasks, previous)


def _check_list(items: Any, key: str, at: Location) -> None:
    if not isinstance(items, list):
        raise InputError(f"{key!r} must be a list of steps, each starting with "
                         f"'- name: ...', not {type_name(items)}", at)


def _expand_list(expansion: Expansion, items: list[Any], path: Path, context: Context,
                 into: list[TaskEntry], previous: tuple[str, ...]) -> tuple[str, ...]:
    """Expand `items` into `into`, after the tasks `previous` (whose success the first of
    them needs); the ids of the tasks whose success means the whole list succeeded."""
    exits = previous
    for position, item in enumerate(items):
        start = len(into)
        at = where(items, position, Location(str(path), 1))
        item_exits = _expand_item(expansion, item, path, at, context, into, exits)
        if len(into) == start:
            continue
        if exits and (start == 0 or exits != (expansion.step_id(into[start - 1]),)):
            expansion.sequence.append((exits, expansion.step_id(into[start])))
        exits = item_exits
    return exits


def _short_key(raw: dict[str, Any], names: tuple[str, ...]) -> str | None:
    for key in raw:
        short = next((key[len(prefix):] for prefix in COLLECTION_PREFIXES
                      if str(key).startswith(prefix)), key)
        if short in names:
            return str(key)
    return None


def _expand_item(expansion: Expansion, raw: Any, path: Path, at: Location, context: Context,
                 into: list[TaskEntry], previous: tuple[str, ...]) -> tuple[str, ...]:
    if not isinstance(raw, dict):
        into.append(TaskEntry(raw, path, at, context))
        return (expansion.step_id(into[-1]),)
    if "block" in raw:
        return _expand_block(expansion, raw, path, at, context, into, previous)
    include = _short_key(raw, INCLUDE_TASKS)
    if include is not None:
        return _expand_include_tasks(expansion, raw, include, path, at, context, into,
                                     previous)
    role = _short_key(raw, INCLUDE_ROLE)
    if role is not None:
        return expand_include_role(expansion, raw, role, at, context, into, previous,
                                   _expand_file)
    into.append(TaskEntry(_with_keywords(raw, context), path, at, context))
    return (expansion.step_id(into[-1]),)


def _with_keywords(raw: dict[str, Any], context: Context) -> Any:
    """The task with the keywords it inherits written in (its own value wins)."""
    missing = {key: value for key, value in context.keywords.items() if key not in raw}
    if "environment" in raw and "environment" in context.keywords:  # merged, the task's wins
        missing["environment"] = merged_environment(context.keywords["environment"],
                                                    raw["environment"])
    if not missing:
        return raw
    return derived_map({**raw, **missing}, raw, where(raw))


def _expand_block(expansion: Expansion, raw: dict[str, Any], path: Path, at: Location,
                  context: Context, into: list[TaskEntry],
                  previous: tuple[str, ...]) -> tuple[str, ...]:
    fields = Fields(raw, "a block", at)
    refuse_task_only(fields, "a block")
    inner = context.inside(fields, BLOCK_KEYS)
    sections = {key: fields.raw(key) for key in ("block", "rescue", "always")}
    for key, items in sections.items():
        if items is not None:
            _check_list(items, key, fields.at(key))
    if into is expansion.handlers and (sections["rescue"] or sections["always"]):
        raise InputError("a handler's block cannot have rescue or always: play runs "
                         "handlers as single steps; write the rescue as a handler of its own",
                         fields.at("rescue" if sections["rescue"] else "always"))

    def expand(key: str, section_context: Context) -> tuple[tuple[str, ...], tuple[str, ...]]:
        start = len(into)
        exits = _expand_list(expansion, sections[key] or [], path, section_context, into,
                             previous)
        return tuple(expansion.step_id(entry) for entry in into[start:]), exits

    body, body_exits = expand("block", inner)
    rescue, rescue_exits = expand("rescue", inner)
    always, always_exits = expand("always", inner)
    region = rescue_exits if rescue else body_exits
    if body and (rescue or always):
        expansion.blocks.append(BlockSpec(body=body, rescue=rescue, always=always,
                                          body_exits=body_exits, region_exits=region))
    return (*region, *always_exits) if always else region


def _expand_include_tasks(expansion: Expansion, raw: dict[str, Any], key: str, path: Path,
                          at: Location, context: Context, into: list[TaskEntry],
                          previous: tuple[str, ...]) -> tuple[str, ...]:
    what = f"an {short_name(key)}"
    fields = Fields(raw, what, at)
    loop = None if short_name(key) == "import_tasks" else read_loop(fields, what)
    if fields.has("register") and short_name(key) != "import_tasks":
        raise InputError(f"'register' on {what}: Ansible registers only the include's own "
                         "result ({changed: false, include_args: ...}), never what the "
                         "included tasks did, and ansible-core calls it no public API "
                         "(ansible/ansible#82798); put 'register' on the tasks inside "
                         f"({COMING_FROM_ANSIBLE})", fields.at("register"))
    refuse_task_only(fields, what, allowed=() if loop is None else (*LOOP_KEYS, "loop_control"))
    value = fields.raw(key)
    if isinstance(value, dict):
        arguments = Fields(value, f"the {short_name(key)} arguments", fields.at(key))
        arguments.reject_unknown(("file", "apply"))
        if arguments.has("apply"):
            raise InputError(f"'apply' of {short_name(key)}: write the keywords on the include "
                             f"itself (play expands includes when the playbook loads)",
                             arguments.at("apply"))
        value = arguments.string("file", required=True)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{short_name(key)} names a tasks file: '{short_name(key)}: tasks/x.yml'",
                         fields.at(key))
    name = literal_name(expansion.variables, value, key, fields.at(key))
    folder = context.role / "tasks" if context.role is not None else path.parent
    target = _resolve(folder, name)
    if not target.is_file() and context.role is None:
        target = _resolve(expansion.playbook.parent, name)
    if not target.is_file():
        raise InputError(f"{short_name(key)}: no such tasks file {name!r} (looked for {target})",
                         fields.at(key))
    inner = context.inside(fields, (key, "name", *LOOP_KEYS, "loop_control"))
    if loop is None:
        return _expand_file(expansion, target, fields.at(key), inner, into, previous)
    exits = previous
    for index, (item, label) in enumerate(load_time_items(expansion.variables, loop, fields)):
        variables = {loop.loop_var: item, **({loop.index_var: index} if loop.index_var else {})}
        iteration = replace(inner, vars={**inner.vars, **variables},
                            suffix=f"{inner.suffix} ({label})")
        exits = _expand_file(expansion, target, fields.at(key), iteration, into, exits)
    return exits


def _expand_file(expansion: Expansion, target: Path, at: Location, context: Context,
                 into: list[TaskEntry], previous: tuple[str, ...]) -> tuple[str, ...]:
    resolved = target.resolve()
    if resolved in expansion.files:
        chain = " -> ".join(file.name for file in (*expansion.files, resolved))
        raise InputError(f"tasks files include each other in a cycle: {chain}", at)
    document = load_yaml_file(resolved)
    if document is None:
        return previous
    if not isinstance(document, list):
        raise InputError(f"a tasks file is a list of tasks, not {type_name(document)}",
                         where(document, default=Location(str(resolved), 1)))
    outer = expansion.files
    expansion.files = (*outer, resolved)
    try:
        return _expand_list(expansion, document, resolved, context, into, previous)
    finally:
        expansion.files = outer


def _resolve(folder: Path, name: str) -> Path:
    candidate = Path(name).expanduser()
    return candidate if candidate.is_absolute() else folder / candidate
