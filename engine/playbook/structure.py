"""Ansible's structure, expanded at load into the play's ordinary task list: `pre_tasks`,
`roles:` (the standard layout, `roles_path`), `import_tasks` / `include_tasks`,
`import_role` / `include_role`, `block` / `rescue` / `always`, and the role handlers.

The loader parses each expanded task as any other, so a task keeps its own file:line (a
role's task points into the role's file) and its place in the play's listed order; what a
block or role gives its tasks (keywords, conditions, tags, vars) travels in a `Context`.
Reference semantics: ansible-core's playbook/block.py, playbook/helpers.py, playbook/role/.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.errors import InputError, Location
from engine.playbook.keywords import (
    LOOP_KEYS,
    LoopSpec,
    loop_items,
    merged_environment,
    read_loop,
)
from engine.playbook.model import BlockSpec, Step, TaskSpec, step_id
from engine.schema import Fields, type_name
from engine.templating import is_template
from engine.yamlfile import derived_map, load_yaml_file, where

# the keys of a block that are its own; every other keyword is given to its tasks
BLOCK_KEYS = ("block", "rescue", "always", "name")
# keywords combined with a task's own instead of overridden by it
MERGED_KEYWORDS = ("when", "tags", "vars")
# keywords Ansible refuses on a block or a static import too (they need a task's result)
TASK_ONLY = ("register", *LOOP_KEYS, "loop_control", "until", "retries", "delay", "notify",
             "changed_when", "failed_when", "listen")
INCLUDE_TASKS = ("import_tasks", "include_tasks", "include")
INCLUDE_ROLE = ("import_role", "include_role")
INCLUDE_ROLE_KEYS = ("name", "tasks_from", "vars_from", "defaults_from", "handlers_from",
                     "public", "allow_duplicates")
ROLE_KEYWORDS = ("when", "tags", "vars", "become", "become_user", "ignore_errors", "no_log",
                 "delegate_to", "run_once", "environment", "remote_user", "any_errors_fatal")
COLLECTION_PREFIXES = ("ansible.builtin.", "ansible.legacy.")
ROLES_PATH_VARIABLES = ("PLAY_ROLES_PATH", "ANSIBLE_ROLES_PATH")
COMING_FROM_ANSIBLE = "see docs/coming-from-ansible.md"
FLUSH_NAME = "(handlers notified in {section})"  # an implicit flush: no task has this name


@dataclass(frozen=True)
class Context:
    """What the blocks, includes and roles around a task give it."""

    prefix: str = ""                                   # "nginx : " inside role nginx
    suffix: str = ""                                   # " (alice)" in a looped include
    when: tuple[Any, ...] = ()
    tags: frozenset[str] = frozenset()
    vars: Mapping[str, Any] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    keywords: Mapping[str, Any] = field(default_factory=dict)  # a task's own value wins
    role: Path | None = None                            # the role's folder

    def inside(self, fields: Fields, skip: tuple[str, ...]) -> Context:
        """This context with the keywords of a block, include or role entry added."""
        keywords = {**self.keywords, **{key: value for key, value in fields.mapping.items()
                                        if key not in (*skip, *MERGED_KEYWORDS)}}
        if "environment" in keywords and "environment" not in skip:
            keywords["environment"] = merged_environment(self.keywords.get("environment"),
                                                         fields.raw("environment"))
        when = fields.raw("when")
        conditions = (*self.when, *(when if isinstance(when, list) else
                                    [] if when is None else [when]))
        return replace(self, when=conditions, keywords=keywords,
                       tags=self.tags | frozenset(fields.string_list("tags")),
                       vars={**self.vars, **fields.mapping_of("vars")})


@dataclass(frozen=True)
class TaskEntry:
    """One task as written (with the keywords it inherits written in), and its context."""

    raw: Any
    path: Path
    at: Location
    context: Context
    is_implicit: bool = False  # a step Ansible adds itself (a flush between sections)

    @property
    def name(self) -> str:
        name = self.raw.get("name") if isinstance(self.raw, dict) else None
        return f"{self.context.prefix}{name}{self.context.suffix}"


@dataclass
class Expansion:
    """The expanded tasks and handlers of one play."""

    play: int
    playbook: Path
    variables: Mapping[str, Any]            # play vars and -e, for a templated include name
    kind: str = "task"                      # the section being expanded: task or handler
    tasks: list[TaskEntry] = field(default_factory=list)
    handlers: list[TaskEntry] = field(default_factory=list)
    blocks: list[BlockSpec] = field(default_factory=list)
    sequence: list[tuple[tuple[str, ...], str]] = field(default_factory=list)
    roles_run: set[tuple[Path, str]] = field(default_factory=set)
    role_runs: dict[Path, int] = field(default_factory=dict)  # how often each role ran
    files: tuple[Path, ...] = ()            # the include chain, to refuse a cycle

    def step_id(self, entry: TaskEntry) -> str:
        return step_id(self.play, "handler" if self.kind == "handler" else "task", entry.name)


def expand_play(fields: Fields, path: Path, play: int, extra_vars: Mapping[str, Any],
                first: tuple[str, ...] = ()) -> Expansion:
    """Ansible's order: pre_tasks, roles (each after its dependencies), tasks, post_tasks;
    the roles' handlers before the play's own. `first`: the steps before all of them (the
    facts task)."""
    variables = {**_literal(fields.mapping_of("vars")), **extra_vars}
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
            exits = _expand_role_entry(expansion, entry, where(roles, position,
                                                               fields.at("roles")), exits)
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
            _insert_flush(expansion, section, index, before)
    if expansion.handlers and expansion.tasks and \
            exits != (step_id(play, "task", expansion.tasks[-1].name),):
        expansion.sequence.append((exits, expansion.step_id(expansion.handlers[0])))
    return expansion


def _insert_flush(expansion: Expansion, section: str, index: int,
                  before: tuple[str, ...]) -> None:
    """Put the `meta: flush_handlers` Ansible runs after pre_tasks and after roles and tasks
    (ansible-core's Play.compile) at `index`: the handlers notified so far run before the
    next section (the play's handler steps are the last flush). What waited for the
    section's exits (`before`) waits for the flush now. Tagged `always`, as Ansible runs it
    whatever the tags; shown only when it runs a handler."""
    at = expansion.tasks[index].at
    raw = derived_map({"name": FLUSH_NAME.format(section=section), "meta": "flush_handlers",
                       "tags": ["always"]}, None, at)
    entry = TaskEntry(raw, Path(at.file), at, Context(), is_implicit=True)
    def task_id(task: TaskEntry) -> str:  # (expansion.kind is "handler" by now)
        return step_id(expansion.play, "task", task.name)

    flush = task_id(entry)
    later = {task_id(task) for task in expansion.tasks[index:]}
    expansion.sequence = [((flush,) if needed == before and step in later else needed, step)
                          for needed, step in expansion.sequence]
    if before and (index == 0 or before != (task_id(expansion.tasks[index - 1]),)):
        expansion.sequence.append((before, flush))
    expansion.tasks.insert(index, entry)


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


def _short(key: str) -> str:
    return key.rsplit(".", 1)[-1]


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
        return _expand_include_role(expansion, raw, role, at, context, into, previous)
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


def _refuse_task_only(fields: Fields, what: str, allowed: tuple[str, ...] = ()) -> None:
    for key in TASK_ONLY:
        if fields.has(key) and key not in allowed:
            raise InputError(f"{key!r} cannot be set on {what}: play expands it into its "
                             f"tasks when the playbook loads, so put {key!r} on each task "
                             f"({COMING_FROM_ANSIBLE})", fields.at(key))


def _expand_block(expansion: Expansion, raw: dict[str, Any], path: Path, at: Location,
                  context: Context, into: list[TaskEntry],
                  previous: tuple[str, ...]) -> tuple[str, ...]:
    fields = Fields(raw, "a block", at)
    _refuse_task_only(fields, "a block")
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
    what = f"an {_short(key)}"
    fields = Fields(raw, what, at)
    loop = None if _short(key) == "import_tasks" else read_loop(fields, what)
    if fields.has("register") and _short(key) != "import_tasks":
        raise InputError(f"'register' on {what}: Ansible registers only the include's own "
                         "result ({changed: false, include_args: ...}), never what the "
                         "included tasks did, and ansible-core calls it no public API "
                         "(ansible/ansible#82798); put 'register' on the tasks inside "
                         f"({COMING_FROM_ANSIBLE})", fields.at("register"))
    _refuse_task_only(fields, what, allowed=() if loop is None else (*LOOP_KEYS, "loop_control"))
    value = fields.raw(key)
    if isinstance(value, dict):
        arguments = Fields(value, f"the {_short(key)} arguments", fields.at(key))
        arguments.reject_unknown(("file", "apply"))
        if arguments.has("apply"):
            raise InputError(f"'apply' of {_short(key)}: write the keywords on the include "
                             f"itself (play expands includes when the playbook loads)",
                             arguments.at("apply"))
        value = arguments.string("file", required=True)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{_short(key)} names a tasks file: '{_short(key)}: tasks/x.yml'",
                         fields.at(key))
    name = _literal_name(expansion, value, key, fields.at(key))
    folder = context.role / "tasks" if context.role is not None else path.parent
    target = _resolve(folder, name)
    if not target.is_file() and context.role is None:
        target = _resolve(expansion.playbook.parent, name)
    if not target.is_file():
        raise InputError(f"{_short(key)}: no such tasks file {name!r} (looked for {target})",
                         fields.at(key))
    inner = context.inside(fields, (key, "name", *LOOP_KEYS, "loop_control"))
    if loop is None:
        return _expand_file(expansion, target, fields.at(key), inner, into, previous)
    exits = previous
    for index, (item, label) in enumerate(_load_time_items(expansion, loop, fields)):
        variables = {loop.loop_var: item, **({loop.index_var: index} if loop.index_var else {})}
        iteration = replace(inner, vars={**inner.vars, **variables},
                            suffix=f"{inner.suffix} ({label})")
        exits = _expand_file(expansion, target, fields.at(key), iteration, into, exits)
    return exits


def _load_time_items(expansion: Expansion, loop: LoopSpec,
                     fields: Fields) -> list[tuple[Any, str]]:
    """A looped include's items and the label of each (what its tasks' names end with): as
    in Ansible the file runs once per item, so play expands it once per item when the
    playbook loads; the list is rendered from play vars and -e."""
    from engine.templating import render, template_errors

    key = next(name for name in LOOP_KEYS if fields.has(name))
    try:  # a literal list stays as written: its items' templates render on each host
        listed = loop.items if not is_template(loop.items) else render(loop.items,
                                                                       expansion.variables)
        items = loop_items(loop.kind, listed)
    except template_errors(InputError, ValueError, TypeError) as error:
        raise InputError(
            f"the {key!r} of this include cannot be expanded when the playbook loads (play "
            f"expands includes before the run, and this list needs more than the play's vars "
            f"and -e: {error}); give the list in the play's vars or -e, or put the loop on "
            f"the included tasks ({COMING_FROM_ANSIBLE})", fields.at(key)) from None
    labelled: list[tuple[Any, str]] = []
    for index, item in enumerate(items):
        label = _item_label(expansion, loop, item, index)
        taken = {seen for _, seen in labelled}
        labelled.append((item, label if label not in taken else f"{label} #{index + 1}"))
    return labelled


def _item_label(expansion: Expansion, loop: LoopSpec, item: Any, index: int) -> str:
    """`loop_control.label` rendered for `item`, else a scalar item itself, else the item's
    `name` or `key` (a with_dict entry), else its position."""
    from engine.templating import render, template_errors

    if loop.label is not None:
        try:
            return str(render(loop.label, {**expansion.variables, loop.loop_var: item}))
        except template_errors(InputError, ValueError, TypeError):
            pass
    if isinstance(item, (str, int, float)) and not isinstance(item, bool):
        return str(item)
    if isinstance(item, dict):
        for name in ("name", "key"):
            if isinstance(item.get(name), (str, int)):
                return str(item[name])
    return f"item {index + 1}"


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


def _literal_name(expansion: Expansion, value: str, key: str, at: Location) -> str:
    """A templated include or role name, rendered from play vars and -e when it can be:
    play expands includes before any host exists."""
    if not is_template(value):
        return value
    from engine.templating import render_text, template_errors

    try:
        rendered = render_text(value, expansion.variables)
    except template_errors(InputError, ValueError, TypeError) as error:
        raise InputError(
            f"{_short(key)} {value!r} cannot be expanded when the playbook loads (play "
            f"expands includes before the run, and this name needs more than the play's vars "
            f"and -e: {error}); write the name literally, or include each file with a "
            f"'when:' ({COMING_FROM_ANSIBLE})", at) from None
    return str(rendered)


def _literal(variables: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in variables.items() if not is_template(value)}


def _resolve(folder: Path, name: str) -> Path:
    candidate = Path(name).expanduser()
    return candidate if candidate.is_absolute() else folder / candidate


# --- roles ---------------------------------------------------------------------------

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


def _expand_role_entry(expansion: Expansion, entry: Any, at: Location,
                       previous: tuple[str, ...]) -> tuple[str, ...]:
    """One item of `roles:`: a name, or `- role: name` with keywords and params."""
    if isinstance(entry, str):
        entry = derived_map({"role": entry}, None, at)
    fields = Fields(entry, "a role entry", at)
    key = "role" if fields.has("role") else "name"
    name = fields.string(key, required=True)
    name = _literal_name(expansion, name, "role", fields.at(key))
    # Ansible's old style: keys that are no keyword are the role's parameters
    params = {param: value for param, value in fields.mapping.items()
              if param not in (key, *ROLE_KEYWORDS)}
    inner = Context().inside(fields, (key, *params))
    return _expand_role(expansion, name, fields.at(key), inner, params, {}, previous,
                        deduplicate=True)


def _expand_include_role(expansion: Expansion, raw: dict[str, Any], key: str, at: Location,
                         context: Context, into: list[TaskEntry],
                         previous: tuple[str, ...]) -> tuple[str, ...]:
    fields = Fields(raw, f"an {_short(key)}", at)
    _refuse_task_only(fields, f"an {_short(key)}")
    arguments = Fields(fields.raw(key), f"the {_short(key)} arguments", fields.at(key))
    arguments.reject_unknown(INCLUDE_ROLE_KEYS)
    name = _literal_name(expansion, arguments.string("name", required=True), key,
                         arguments.at("name"))
    files = {part: arguments.string(f"{part}_from") or "main"
             for part in ("tasks", "vars", "defaults", "handlers")}
    inner = context.inside(fields, (key, "name"))
    if into is expansion.handlers:
        raise InputError(f"{_short(key)} in handlers: list the role's handlers in its "
                         "handlers/main.yml and import the role in the play's tasks",
                         fields.at(key))
    return _expand_role(expansion, name, arguments.at("name"), inner, {}, files, previous,
                        deduplicate=False)


def _expand_role(expansion: Expansion, name: str, at: Location, context: Context,
                 params: Mapping[str, Any], files: Mapping[str, str],
                 previous: tuple[str, ...], deduplicate: bool) -> tuple[str, ...]:
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
        previous = _expand_dependencies(expansion, role, meta, context, previous)
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
        exits = _expand_file(expansion, tasks, at, inner, expansion.tasks, previous)
    handlers = _role_file(role, "handlers", files.get("handlers", "main"))
    if handlers is not None:
        kind, expansion.kind = expansion.kind, "handler"
        try:
            _expand_file(expansion, handlers, at, inner, expansion.handlers, ())
        finally:
            expansion.kind = kind
    return exits


def _expand_dependencies(expansion: Expansion, role: Path, meta: Mapping[str, Any],
                         context: Context, previous: tuple[str, ...]) -> tuple[str, ...]:
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
                                deduplicate=True)
    return previous


# --- after parsing -------------------------------------------------------------------

def finish_step(step: Step, entry: TaskEntry) -> Step:
    """A parsed task with what its context gives it: the role's prefix on its name (as
    Ansible displays `role : task`), the conditions of its blocks and roles before its
    own, their tags and vars, the role's defaults and folder."""
    body = step.body
    if not isinstance(body, TaskSpec):
        return step
    context = entry.context
    conditions = [*context.when, *([] if body.when is None else [body.when])]
    when = None if not conditions else conditions[0] if len(conditions) == 1 else \
        " and ".join(f"({condition})" for condition in conditions)
    body = replace(body, when=when, vars={**context.vars, **body.vars},
                   defaults=dict(context.defaults), is_implicit=entry.is_implicit)
    return replace(step, name=f"{context.prefix}{step.name}{context.suffix}", body=body,
                   tags=step.tags | context.tags)


def local_file_bases(entry: TaskEntry, playbook: Path) -> tuple[Path, ...]:
    """The files beside which a task's template or copy `src` is looked up, first first:
    a role's tasks folder (so its templates/ and files/), the task's own file, the
    playbook."""
    bases = [entry.path, playbook]
    if entry.context.role is not None:
        bases.insert(0, entry.context.role / "tasks" / "main.yml")
    return tuple(dict.fromkeys(bases))


def resolve_notify(steps: list[Step], listen: Mapping[str, tuple[str, ...]]) -> list[Step]:
    """`notify:` names as Ansible reads them: a handler's name, its `role : name`, a bare
    name of a role's handler (the notifying task's own role first), or a `listen:` topic
    (every handler listening to it). Containers keep their names."""
    handlers = [step for step in steps if step.kind == "handler"]
    by_name = {step.name: step.name for step in handlers}
    resolved = []
    for step in steps:
        if not isinstance(step.body, TaskSpec) or not step.body.notify:
            resolved.append(step)
            continue
        prefix = step.name.split(" : ", 1)[0] + " : " if " : " in step.name else ""
        names: list[str] = []
        for target in step.body.notify:
            matches = [name for name in by_name if name == target]
            matches = matches or [name for name in by_name if name == f"{prefix}{target}"]
            matches = matches or [name for name in by_name if name.endswith(f" : {target}")]
            matches += [name for name, topics in listen.items() if target in topics]
            names += matches or [target]
        unique = tuple(dict.fromkeys(names))
        resolved.append(replace(step, body=replace(step.body, notify=unique)))
    return resolved
