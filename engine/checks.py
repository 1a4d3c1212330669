"""Before anything runs: every template in the plan must parse and every variable it
reads must be defined for each host that renders it (SPEC: undefined variables are
errors, never an empty string).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import InputError, Location, did_you_mean
from engine.playbook import Play, Step, TaskSpec
from engine.templating import MAGIC_VARIABLES, is_template, names_in_expression, names_in_template
from engine.variables import host_scope, load_vars_files

if TYPE_CHECKING:
    from engine.inventory import Inventory
    from engine.plan import Plan

EXPRESSION_FIELDS = ("when", "until", "changed_when", "failed_when")


def check_variables(plan: Plan, inventory: Inventory, extra_vars: Mapping[str, Any]) -> None:
    """Raise `InputError` for the first template that cannot render on some host."""
    registered: set[str] = set()
    for placement in plan.placements:
        play = plan.playbook.plays[placement.play]
        registered |= {step.body.register for step in play.steps
                       if isinstance(step.body, TaskSpec) and step.body.register}
        file_vars = load_vars_files(play.vars_files)
        for host in placement.hosts:
            scope = host_scope(inventory.hosts[host].vars, play.vars, file_vars, extra_vars)
            checker = _HostChecker(host, scope, MAGIC_VARIABLES | registered)
            for step in play.steps:
                checker.check_step(play, step)


class _HostChecker:
    def __init__(self, host: str, scope: Mapping[str, Any], always: frozenset[str] | set[str]):
        self.host = host
        self.scope = scope
        self.always = always
        self.checked_vars: set[str] = set()  # vars whose own templates were already checked

    def check_step(self, play: Play, step: Step) -> None:
        local: set[str] = set()
        body = step.body
        if isinstance(body, TaskSpec):
            if body.loop is not None:
                local.add("item")
            if body.register:
                local.add(body.register)
        for field, value, is_expression in _values(step):
            self._check(value, is_expression, local, step, field, step.source)
        if isinstance(body, TaskSpec) and body.action == "template":
            source = body.args.get("src") if isinstance(body.args, dict) else None
            if isinstance(source, str) and not is_template(source):
                self._check_template_file(Path(source), local, step)

    def _check_template_file(self, path: Path, local: set[str], step: Step) -> None:
        text = path.read_text(encoding="utf-8")
        self._check(text, False, local, step, "template", Location(str(path), 1),
                    lines_are_in_file=True)

    def _check(self, text: str, is_expression: bool, local: set[str], step: Step, field: str,
               at: Location, lines_are_in_file: bool = False) -> None:
        import jinja2  # loaded by now: only templates and expressions are checked

        try:
            names = names_in_expression(text) if is_expression else names_in_template(text)
        except jinja2.TemplateSyntaxError as error:
            line = error.lineno if lines_are_in_file else at.line
            raise InputError(f"template syntax error in {step.label!r} ({field}): "
                             f"{error.message}", Location(at.file, line)) from None
        for name, line in names:
            if name in local or name in self.always:
                continue
            where = Location(at.file, line) if lines_are_in_file else at
            if name not in self.scope:
                raise InputError(
                    f"undefined variable {name!r} in {step.label!r} ({field}) for host "
                    f"{self.host!r}{did_you_mean(name, self.scope)}; define it in the play's "
                    f"vars, the inventory, a vars file, or with -e {name}=...", where)
            self._check_variable(name, step)

    def _check_variable(self, name: str, step: Step) -> None:
        """A variable whose value is itself a template must render too."""
        if name in self.checked_vars:
            return
        self.checked_vars.add(name)
        for text in _strings(self.scope[name]):
            if is_template(text):
                self._check(text, False, set(), step, f"via variable {name!r}", step.source)


def _values(step: Step) -> Iterator[tuple[str, str, bool]]:
    """(field, text, is_expression) for every string of a step that Jinja2 renders."""
    body = step.body
    for spec_field in dataclass_fields(body):
        value = getattr(body, spec_field.name)
        if spec_field.name in EXPRESSION_FIELDS:
            if isinstance(value, str):
                yield spec_field.name, value, True
            continue
        for text in _strings(value):
            if is_template(text):
                yield spec_field.name, text, False


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)
    elif hasattr(value, "__dataclass_fields__"):
        for item_field in dataclass_fields(value):
            yield from _strings(getattr(value, item_field.name))
