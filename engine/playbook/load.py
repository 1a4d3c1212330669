"""Read a playbook file into a `Playbook`, rejecting every mistake with its line.

A play's own keys are checked here; its tasks are expanded (engine/playbook/structure.py)
and each parsed by task_parser.py, its containers and services by container_parser.py;
`engine/playbook/cross_references.py` then checks the names that point across steps and plays.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from engine.errors import InputError, Location
from engine.playbook.ansible import refuse_ansible_play_keys
from engine.playbook.container_parser import parse_container, parse_service
from engine.playbook.cross_references import check_references
from engine.playbook.expansion import Expansion, TaskEntry, finish_step, local_file_bases
from engine.playbook.handlers import resolve_notify
from engine.playbook.keywords import PLAY_KEYWORDS, read_environment
from engine.playbook.model import Play, Playbook, Step, StepKind, TaskSpec, step_id
from engine.playbook.resolve import checked_serial
from engine.playbook.step_fields import beside_playbook
from engine.playbook.structure import expand_play
from engine.playbook.task_parser import parse_task
from engine.schema import Fields, type_name
from engine.templating import is_template
from engine.yamlfile import derived_map, load_yaml_file, where

PLAY_KEYS = ("name", "hosts", "serial", "max_fail_percentage", "vars", "vars_files", "tasks",
             "handlers", "containers", "services", "after", "registry", "any_errors_fatal",
             "become", "tags", "pre_tasks", "roles", "post_tasks", "gather_facts",
             *PLAY_KEYWORDS)
# the task Ansible names "Gathering Facts", first on every host of a `gather_facts` play
GATHER_FACTS = "Gathering Facts"

StepParser = Callable[[int, StepKind, Any, Path, Location], Step]


def load_playbook(path: str | Path, extra_vars: Mapping[str, Any] | None = None) -> Playbook:
    """Load and validate a playbook; any mistake raises `InputError` with file:line.
    `extra_vars` (-e) may name what a templated include or role name needs."""
    path = Path(path)
    entries = _play_entries(path, ())
    plays = tuple(_parse_play(index, raw, play_path, at, extra_vars or {})
                  for index, (raw, play_path, at) in enumerate(entries))
    playbook = Playbook(str(path), plays)
    return check_references(playbook, [raw for raw, _, _ in entries])


def _play_entries(path: Path, importers: tuple[Path, ...]) -> list[tuple[Any, Path, Location]]:
    """The raw plays of a playbook file, with `- import_playbook: other.yml` entries
    replaced by that file's plays (Ansible's spelling), each with the file it came from."""
    document = load_yaml_file(path)
    here = Location(str(path), 1)
    if not isinstance(document, list) or not document:
        raise InputError("a playbook is a non-empty list of plays; start each play with "
                         "'- name: ...' and 'hosts: ...'", where(document, default=here))
    entries: list[tuple[Any, Path, Location]] = []
    for index, raw in enumerate(document):
        at = where(document, index, here)
        if isinstance(raw, dict) and "import_playbook" in raw:
            entries.extend(_imported(raw, path, (*importers, path.resolve()), at))
        else:
            entries.append((raw, path, at))
    return entries


def _imported(raw: Any, path: Path, importers: tuple[Path, ...], at: Location,
              ) -> list[tuple[Any, Path, Location]]:
    fields = Fields(raw, "an import_playbook entry", at)
    fields.reject_unknown(("import_playbook", "name"))
    target = fields.string("import_playbook", required=True)
    if is_template(target):
        raise InputError("import_playbook is read before any variable exists: write the path "
                         "literally", fields.at("import_playbook"))
    imported = beside_playbook(path, target).resolve()
    if imported in importers:
        chain = " -> ".join(p.name for p in (*importers, imported))
        raise InputError(f"playbooks import each other in a cycle: {chain}",
                         fields.at("import_playbook"))
    if not imported.is_file():
        raise InputError(f"import_playbook: no such playbook {target!r} (looked for "
                         f"{imported})", fields.at("import_playbook"))
    return _play_entries(imported, importers)


def _parse_play(index: int, raw: Any, path: Path, at: Location,
                extra_vars: Mapping[str, Any]) -> Play:
    fields = Fields(raw, "a play", at)
    refuse_ansible_play_keys(fields.mapping, PLAY_KEYS, fields.at)
    fields.reject_unknown(PLAY_KEYS)
    name = fields.string("name", required=True)
    play_tags = frozenset(fields.string_list("tags"))
    gather_facts = fields.static_boolean("gather_facts", False)
    expansion = expand_play(fields, path, index, extra_vars,
                            (step_id(index, "task", GATHER_FACTS),) if gather_facts else ())
    steps = [Step(index, "task", GATHER_FACTS, fields.at("gather_facts"),
                  TaskSpec(action="setup", args={}), tags=frozenset({"always"}))
             ] if gather_facts else []
    steps += [Step(step.play, step.kind, step.name, step.source, step.body, step.after,
                   step.tags | play_tags) for step in _expanded_tasks(index, expansion, path)]
    sections: tuple[tuple[StepKind, str, StepParser], ...] = (
        ("container", "containers", parse_container), ("service", "services", parse_service))
    for kind, key, parse in sections:
        for position, item in enumerate(_step_list(fields, key)):
            item_at = where(fields.raw(key), position, fields.at(key))
            step = parse(index, kind, item, path, item_at)
            steps.append(dataclasses.replace(step, tags=step.tags | play_tags))
    return Play(
        index=index,
        name=name,
        hosts=_hosts_pattern(fields),
        source=fields.location,
        steps=tuple(steps),
        vars=fields.mapping_of("vars"),
        vars_files=_vars_files(fields, path),
        serial=_serial(fields),
        max_fail_percentage=fields.number("max_fail_percentage"),
        any_errors_fatal=fields.static_boolean("any_errors_fatal", False),
        after=None,  # play names, resolved to indexes by check_references
        registry=fields.mapping_of("registry"),
        become=fields.boolean("become"),
        blocks=tuple(expansion.blocks),
        sequence=tuple(expansion.sequence),
        gather_facts=gather_facts,
        become_user=fields.string("become_user"),
        remote_user=fields.string("remote_user"),
        environment=read_environment(fields, f"play {name!r}"),
    )


def _vars_files(fields: Fields, path: Path) -> tuple[str, ...]:
    """The play's vars files beside the playbook; one written literally must exist."""
    files = []
    for file in fields.string_list("vars_files"):
        resolved = beside_playbook(path, file)
        if not is_template(file) and not resolved.is_file():
            raise InputError(f"vars file {file!r} not found (looked for {resolved}); a relative "
                             "path is read beside the playbook", fields.at("vars_files"))
        files.append(str(resolved))
    return tuple(files)


def _expanded_tasks(play: int, expansion: Expansion, playbook: Path) -> list[Step]:
    """The play's tasks and handlers, each parsed where it was written and given what its
    blocks and roles give it; `notify:` then resolved as Ansible does (listen topics,
    role handlers)."""
    steps: list[Step] = []
    listen: dict[str, tuple[str, ...]] = {}
    sections: tuple[tuple[StepKind, list[TaskEntry]], ...] = (
        ("task", expansion.tasks), ("handler", expansion.handlers))
    for kind, entries in sections:
        for entry in entries:
            raw, topics = _without_listen(entry.raw, entry.at) if kind == "handler" else (
                entry.raw, ())
            step = parse_task(play, kind, raw, entry.path, entry.at,
                               local_file_bases(entry, playbook))
            step = finish_step(step, entry)
            if topics:
                listen[step.name] = topics
            steps.append(step)
    return resolve_notify(steps, listen)


def _without_listen(raw: Any, at: Location) -> tuple[Any, tuple[str, ...]]:
    """A handler without its `listen:` topics, and the topics."""
    if not isinstance(raw, dict) or "listen" not in raw:
        return raw, ()
    fields = Fields(raw, "a handler", at)
    topics = fields.string_list("listen")
    handler = derived_map({key: value for key, value in raw.items() if key != "listen"}, raw,
                          at)
    return handler, topics


def _step_list(fields: Fields, key: str) -> list[Any]:
    value = fields.raw(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f"{key!r} of a play must be a list of steps, each starting with "
                         f"'- name: ...', not {type_name(value)}", fields.at(key))
    return value


def _hosts_pattern(fields: Fields) -> str:
    value = fields.required("hosts")
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ":".join(value)  # Ansible accepts a list of patterns: their union
    return str(fields.string("hosts"))


def _serial(fields: Fields) -> tuple[Any, ...]:
    value = fields.raw("serial")
    if value is None:
        return ()
    sizes = value if isinstance(value, list) else [value]
    # a template (of play vars and -e, never host vars: batches come first) is rendered
    # and checked by engine/playbook/resolve.py once the extra vars are known
    return tuple(size if is_template(size) else checked_serial(size, fields.at("serial"))
                 for size in sizes)


