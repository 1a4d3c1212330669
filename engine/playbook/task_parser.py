"""One task or handler parsed into a `Step`: its keywords, its one action and that
action's arguments (checked against engine/actions/catalog.py), its loop and conditions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.actions.catalog import CATALOG, action_name
from engine.errors import InputError, Location, did_you_mean
from engine.local_files import find_local_file
from engine.playbook.ansible import refuse_ansible_task_key
from engine.playbook.keywords import TASK_KEYWORDS as ANSIBLE_TASK_KEYWORDS
from engine.playbook.keywords import merged_args, read_environment, read_loop, split_key_values
from engine.playbook.model import Step, StepKind, TaskSpec
from engine.playbook.step_fields import condition, refuse, step_name
from engine.playbook.values import as_written, task_problems
from engine.schema import Fields
from engine.templating import is_template

TASK_KEYWORDS = ("name", "when", "loop", "register", "notify", "after", "retries", "until",
                 "delay", "timeout", "ignore_errors", "changed_when", "failed_when", "become",
                 "run_once", "tags", "no_log", "vars", "delegate_to", *ANSIBLE_TASK_KEYWORDS)


def _meta_name(fields: Fields, written: list[str]) -> str | None:
    """A `meta:` task may go without a name, as Ansible playbooks write it: its own words and
    line keep it unique in the play."""
    if fields.has("name") or len(written) != 1 or action_name(written[0]) != "meta":
        return None
    return f"meta: {fields.raw(written[0])} (line {fields.location.line})"


def parse_task(play: int, kind: StepKind, raw: Any, path: Path, at: Location,
               bases: tuple[Path, ...] = ()) -> Step:
    fields = Fields(raw, f"a {kind}", at)
    written = [key for key in fields.mapping if action_name(key) is not None]
    unknown = [key for key in fields.mapping
               if action_name(key) is None and key not in TASK_KEYWORDS]
    if unknown:
        key = unknown[0]
        refuse_ansible_task_key(key, fields.mapping, fields.at(key), kind)
        raise InputError(
            f"unknown key {key!r} in a {kind}{did_you_mean(key, (*CATALOG, *TASK_KEYWORDS))}"
            f" (actions: {', '.join(CATALOG)}; keywords: {', '.join(TASK_KEYWORDS)})",
            fields.at(key))
    name = _meta_name(fields, written) or step_name(fields)
    if len(written) != 1:
        found = ", ".join(written) if written else "none"
        raise InputError(f"{kind} {name!r} must have exactly one action ({', '.join(CATALOG)})"
                         f"; found {found}", fields.location)
    key = written[0]
    action = str(action_name(key))
    bases = bases or (path,)
    args = _action_args(action, key, fields, bases)
    refuse(f"{kind} {name!r}", task_problems(action, as_written(args)), fields.raw(key),
           fields.at(key))
    loop = read_loop(fields, f"{kind} {name!r}")
    body = TaskSpec(
        action=action,
        args=args,
        when=condition(fields, "when"),
        loop=None if loop is None else loop.items,
        register=fields.string("register"),
        notify=fields.string_list("notify"),
        retries=fields.integer("retries"),
        until=condition(fields, "until"),
        delay=fields.duration("delay"),
        timeout=fields.duration("timeout"),
        ignore_errors=fields.boolean("ignore_errors", False),
        changed_when=condition(fields, "changed_when"),
        failed_when=condition(fields, "failed_when"),
        become=fields.boolean("become"),
        run_once=fields.static_boolean("run_once", False),
        no_log=fields.boolean("no_log", False),
        vars=fields.mapping_of("vars"),
        sources=tuple(str(base) for base in bases),
        delegate_to=fields.string("delegate_to"),
        **({} if loop is None else {"loop_kind": loop.kind, "loop_var": loop.loop_var,
                                    "index_var": loop.index_var, "label": loop.label}),
        become_user=fields.string("become_user"),
        remote_user=fields.string("remote_user"),
        environment=read_environment(fields, f"{kind} {name!r}"),
    )
    return Step(play, kind, name, fields.location, body, fields.string_list("after"),
                frozenset(fields.string_list("tags")))


def _action_args(action: str, written: str, fields: Fields, bases: tuple[Path, ...]) -> Any:
    """The arguments of action `action`, written as key `written` (`ansible.builtin.copy`)."""
    spec = CATALOG[action]
    value = merged_args(action, fields.raw(written), fields.raw("args"), fields.at("args"))
    at = fields.at(written)
    if isinstance(value, str) and spec.free_form:
        return value
    if isinstance(value, str) and value.strip():
        try:
            value = split_key_values(written, value)
        except ValueError as error:
            raise InputError(str(error), at) from None
    if value is None and spec.free_form is None and not spec.required and not spec.one_of:
        return {}
    arguments = Fields(value, f"the {written!r} action", at)
    if not spec.any_names:
        arguments.reject_unknown(spec.allowed)
    for key in spec.required:
        arguments.required(key)
    if spec.one_of and not any(arguments.has(key) for key in spec.one_of):
        raise InputError(f"the {written!r} action needs one of: {', '.join(spec.one_of)}", at)
    resolved = dict(arguments.mapping)
    if spec.local_file is not None:
        key, folder = spec.local_file
        source = resolved.get(key)
        if isinstance(source, str) and not is_template(source):
            resolved[key] = str(find_local_file(bases, folder, source, arguments.at(key)))
    return resolved
