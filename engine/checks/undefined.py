"""Undefined variables: every template of a step, and of the variables it reads, must
parse, and every name it reads must be defined for the host (or be made while the run
goes: a registered result, a fact, a loop variable).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import fields as dataclass_fields
from pathlib import Path

from engine.actions.setup import FACT_NAMES, as_variables
from engine.errors import InputError, Location, did_you_mean
from engine.nested import strings
from engine.playbook import Play, Step, TaskSpec
from engine.templating import is_template, names_in_expression, names_in_template
from engine.variables import Scope

EXPRESSION_FIELDS = ("when", "until", "changed_when", "failed_when")
# what `gather_facts: true` defines on every host before the play's first task
FACT_VARIABLES = frozenset(as_variables(dict.fromkeys(FACT_NAMES)))


class HostChecker:
    def __init__(self, host: str, scope: Scope, always: frozenset[str] | set[str],
                 step_values: Mapping[str, tuple[tuple[str, str, bool], ...]]) -> None:
        self.host = host
        self.scope = scope
        self.always = always
        self.step_values = step_values
        self.checked_vars: set[str] = set()  # vars whose own templates were already checked

    def check_step(self, play: Play, step: Step) -> None:
        local: set[str] = set()
        body = step.body
        if isinstance(body, TaskSpec):
            if body.loop is not None:
                local.add(body.loop_var)
                if body.index_var is not None:
                    local.add(body.index_var)
            if body.register:
                local.add(body.register)
        if is_template(step.name):
            # every name is rendered: a Docker name, a registry key, a task's progress line
            self._check(step.name, False, local, step, "name", step.source)
        for field, value, is_expression in self.step_values[step.id]:
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
                fix = "; it is a fact: set 'gather_facts: true' on the play" \
                    if name in FACT_VARIABLES else f"{did_you_mean(name, self.scope)}; define " \
                    f"it in the play's vars, the inventory, a vars file, or with -e {name}=..."
                raise InputError(
                    f"undefined variable {name!r} in {step.label!r} ({field}) for host "
                    f"{self.host!r}{fix}", where)
            self._check_variable(name, step)

    def _check_variable(self, name: str, step: Step) -> None:
        """A variable whose value is itself a template must render too."""
        if name in self.checked_vars:
            return
        self.checked_vars.add(name)
        for text in strings(self.scope.raw(name)):
            if is_template(text):
                self._check(text, False, set(), step, f"via variable {name!r}", step.source)


def templated_values(step: Step) -> Iterator[tuple[str, str, bool]]:
    body = step.body
    for spec_field in dataclass_fields(body):
        value = getattr(body, spec_field.name)
        if spec_field.name in EXPRESSION_FIELDS:
            if isinstance(value, str):
                yield spec_field.name, value, True
            continue
        for text in strings(value):
            if is_template(text):
                yield spec_field.name, text, False
