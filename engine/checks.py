"""Before anything runs: every template in the plan must parse and every variable it
reads must be defined for each host that renders it (SPEC: undefined variables are
errors, never an empty string). Values rendered for a host must also be ones Docker,
POSIX and the registry accept (engine/playbook/values.py).
"""

from __future__ import annotations

import functools
from collections import ChainMap
from collections.abc import Iterator, Mapping
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.actions.catalog import CATALOG
from engine.connection.base import MAX_COMMAND_LINE
from engine.errors import InputError, Location, did_you_mean
from engine.nested import leaves, strings
from engine.output.redaction import MIN_SECRET, Redactor, secret_values
from engine.playbook import ContainerSpec, Play, ServiceSpec, Step, TaskSpec
from engine.playbook.keywords import loop_items
from engine.playbook.load import find_local_file
from engine.playbook.values import (
    Later,
    Problem,
    container_problems,
    hiding,
    service_problems,
    task_problems,
)
from engine.templating import (
    MAGIC_VARIABLES,
    is_template,
    names_in_expression,
    names_in_template,
    render_text,
    template_errors,
)
from engine.variables import Scope, host_scope, load_vars_files, playbook_dir, static_magic

if TYPE_CHECKING:
    from engine.inventory import Inventory
    from engine.plan import Plan

EXPRESSION_FIELDS = ("when", "until", "changed_when", "failed_when")


def check_variables(plan: Plan, inventory: Inventory, extra_vars: Mapping[str, Any]) -> None:
    """Raise `InputError` for the first template that cannot render on some host."""
    registered: set[str] = set()
    groups = {name: list(group.hosts) for name, group in inventory.groups.items()}
    folder = playbook_dir(plan.playbook.path)
    # each step's templated strings, found once instead of once per host (at 10,000 hosts
    # the walk took seconds)
    step_values = {step.id: tuple(_values(step)) for step in plan.steps.values()}
    for placement in plan.placements:
        play = plan.playbook.plays[placement.play]
        registered |= {step.body.register for step in play.steps
                       if isinstance(step.body, TaskSpec) and step.body.register}
        file_vars = load_vars_files(play.vars_files)
        renders = _PlayRenders(play.name, ChainMap(dict(extra_vars), file_vars, play.vars),
                               registered)
        for host in placement.hosts:
            inventory_host = inventory.hosts[host]
            # the magic variables known before the run; the others (hostvars, play_hosts,
            # services, ...) exist only while it runs (MAGIC_VARIABLES names them all)
            magic = static_magic(host, inventory_host.groups, groups, folder)
            scope = host_scope(host, inventory_host.vars, play.vars, file_vars, extra_vars,
                               magic)
            checker = _HostChecker(host, scope, MAGIC_VARIABLES | registered, step_values)
            values = _RenderedValues(host, scope, renders)
            for step in play.steps:
                checker.check_step(play, step)
                values.check_step(step)


class _HostChecker:
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
        if step.kind in ("container", "service") and is_template(step.name):
            # a container's or service's name is rendered too: a Docker name, a registry key
            self._check(step.name, False, local, step, "name", step.source)
        if isinstance(body, TaskSpec):
            if body.loop is not None:
                local.add(body.loop_var)
                if body.index_var is not None:
                    local.add(body.index_var)
            if body.register:
                local.add(body.register)
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
        for text in strings(self.scope.raw(name)):
            if is_template(text):
                self._check(text, False, set(), step, f"via variable {name!r}", step.source)


def _values(step: Step) -> Iterator[tuple[str, str, bool]]:
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


class _PlayRenders:
    """What one play's hosts share while their values are checked: the parts of each step
    to render, and the renderings of templates that read only host-independent variables
    (extra vars, vars files, play vars), done once instead of once per host."""

    def __init__(self, name: str, shared: ChainMap[str, Any], registered: set[str]) -> None:
        self.name = name
        self.shared = shared
        self.registered = registered
        self.to_render: dict[str, Any] = {}   # step id -> what to render (None: nothing)
        self.renders: dict[str, Any] = {}     # template -> its value on every host
        self.checked: set[str] = set()        # steps that render the same on every host
        self._is_shared: dict[str, bool] = {}

    def is_shared(self, text: str) -> bool:
        """Whether `text` renders the same on every host of the play."""
        if text not in self._is_shared:
            self._is_shared[text] = False  # while deciding: a template that reads itself
            self._is_shared[text] = all(
                name in self.shared and all(self.is_shared(inner) for inner in
                                            strings(self.shared[name]) if is_template(inner))
                for name, _ in names_in_template(text))
        return self._is_shared[text]


class _RenderedValues:
    """Renders, for one host, the templates of each step that are known before the run,
    and refuses values Docker, POSIX or the registry would refuse (the loader already did so
    for the values written literally). Templates that read run-time values (registered
    results, a loop over them, the services() lookup) are left to the run."""

    def __init__(self, host: str, scope: Scope, play: _PlayRenders) -> None:
        self.host = host
        self.scope = scope
        self.play = play

    def check_step(self, step: Step) -> None:
        if isinstance(step.body, ServiceSpec):
            # its record is named after the host too: checked on every host, even when
            # the service's name is written literally
            name = self._render(step.name, self.scope)
            self._refuse(step, service_problems(_text(name), self.host))
            return
        if step.id not in self.play.to_render:
            self.play.to_render[step.id] = _to_render(step)
        raw = self.play.to_render[step.id]
        body = step.body
        if isinstance(body, ContainerSpec):
            self._check_container(step, body, raw)
            return
        if raw is None or step.id in self.play.checked:
            return  # no template to render (the loader checked every value), or done
        if self._is_shared(step, raw):
            self.play.checked.add(step.id)
        if isinstance(body, TaskSpec):
            for scope in self._loop_scopes(body):
                args = self._render(raw, scope)
                self._refuse(step, task_problems(body.action, args))
                self._check_local_source(step, body, args)

    def _is_shared(self, step: Step, raw: Any) -> bool:
        """Whether the step renders the same on every host: then once is enough."""
        loop = step.body.loop if isinstance(step.body, TaskSpec) else None
        return all(self.play.is_shared(text) for text in strings([step.name, raw, loop])
                   if is_template(text))

    def _check_container(self, step: Step, body: ContainerSpec, raw: Any) -> None:
        """Its rendered values (the loader checked the literal ones), and the length of the
        `docker run` line they make, which only the whole container tells."""
        if step.id in self.play.checked:
            return
        if raw is None or self._is_shared(step, raw):
            self.play.checked.add(step.id)
        name = self._render(step.name, self.scope)
        spec = self._render(body.per_host_fields() if raw is None else raw, self.scope)
        if raw is not None:
            self._refuse(step, container_problems(_text(name), spec))
        self._refuse(step, _run_line_problems(name, spec, body.env_file, self.play.name))

    def _loop_scopes(self, task: TaskSpec) -> Iterator[Scope]:
        if task.loop is None:
            yield self.scope
            return
        try:
            items = loop_items(task.loop_kind, self._render(task.loop, self.scope))
        except ValueError:
            return  # not a list (yet): the run fails the step, saying what it got
        if any(isinstance(item, Later) for item in items):
            return  # a loop over run-time values: its items are checked when it runs
        for index, item in enumerate(items):
            values = {task.loop_var: item}
            if task.index_var is not None:
                values[task.index_var] = index
            yield self.scope.child(values)

    def _check_local_source(self, step: Step, task: TaskSpec, args: Any) -> None:
        """A templated template/copy `src` names a file beside the playbook, as a literal
        one does; it must exist now (and a template's own variables are checked then)."""
        local_file = CATALOG[task.action].local_file
        if local_file is None or not isinstance(task.args, Mapping) \
                or not isinstance(args, Mapping):
            return
        key, folder = local_file
        source = args.get(key)
        if not is_template(task.args.get(key)) or not isinstance(source, str):
            return  # written literally (the loader looked it up), or not known yet
        try:
            find_local_file(Path(step.source.file), folder, source, step.source)
        except InputError as error:
            raise InputError(f"{step.label!r} as rendered for host {self.host!r}: "
                             f"{self._secrets.text(error.message)}", error.location) from None

    def _render(self, value: Any, scope: Scope) -> Any:
        """`value` with each template rendered that can be now; the others become `Later`."""
        if isinstance(value, str):
            if not is_template(value):
                return value
            if value in self.play.renders and scope is self.scope:
                return self.play.renders[value]
            if not self._is_known_now(value, scope):
                return Later(value)
            try:
                rendered = render_text(value, scope)
            except template_errors(InputError, ValueError, TypeError, LookupError):
                rendered = Later(value)  # the run reports it, on the host that renders it
            if scope is self.scope and self.play.is_shared(value):
                self.play.renders[value] = rendered
            return rendered
        if isinstance(value, Mapping):
            rendered = {}
            for key, item in value.items():
                new_key = self._render(key, scope)
                if not isinstance(new_key, (str, int, float, bool, Later)):
                    new_key = Later(key)  # a list or mapping: not a name; the run says so
                rendered[new_key] = self._render(item, scope)
            return rendered
        if isinstance(value, (list, tuple)):
            return [self._render(item, scope) for item in value]
        return value

    def _is_known_now(self, text: str, scope: Scope) -> bool:
        import jinja2

        try:
            names = names_in_template(text)
        except jinja2.TemplateSyntaxError:
            return False  # reported by _HostChecker
        return all(name in scope and name not in self.play.registered for name, _ in names)

    def _refuse(self, step: Step, problems: Iterator[Problem]) -> None:
        with hiding(self._is_secret):  # the problems are made (and quote values) here
            for _, problem in problems:
                raise InputError(f"{step.label!r} as rendered for host {self.host!r}: "
                                 f"{problem}", step.source)

    @functools.cached_property
    def _secrets(self) -> Redactor:
        """This host's secrets, rendered only once a value is refused."""
        return Redactor(secret_values(self.scope))

    def _is_secret(self, text: str) -> bool:
        """`text` holds a secret, or is a piece of one (a volume's part)."""
        return self._secrets.contains_secret(text) or (len(text) >= MIN_SECRET and any(
            text in secret for secret in self._secrets.secrets))


def _run_line_problems(name: Any, spec: Any, env_files: tuple[str, ...],
                       play_name: str) -> Iterator[Problem]:
    """A `docker run` line longer than a host's shell takes. Built only when the values
    could make one: quoting makes a string at most five times longer (each `'` becomes
    `'"'"'`), plus a flag before it."""
    found = [leaf for _, leaf in leaves([name, spec, play_name])]
    if any(isinstance(leaf, Later) for leaf in found):
        return  # rendered when it runs, and checked then
    bound = 1024 + sum(5 * len(leaf.encode("utf-8", "surrogateescape")) + 32
                       for leaf in found if isinstance(leaf, str))
    if bound <= MAX_COMMAND_LINE and not env_files:
        return
    from engine.containers.docker import run_line_problem
    from engine.containers.facts import ContainerError
    from engine.containers.spec import desired_container
    from engine.containers.step import env_file_values

    try:
        desired = desired_container(str(name), spec, env_file_values(env_files), play_name)
    except (ContainerError, ValueError, TypeError, KeyError):
        return  # a value the run refuses with its own message
    problem = run_line_problem(desired)
    if problem is not None:
        yield (), problem


def _to_render(step: Step) -> Any:
    """What of a step the pre-run checks render for each host (its container fields, its
    task arguments), or None when it holds no template."""
    if not is_template(step.name) and all(is_expression for _, _, is_expression in _values(step)):
        return None
    body = step.body
    if isinstance(body, ContainerSpec):
        return body.per_host_fields()
    return body.args if isinstance(body, TaskSpec) else step.name


def _text(value: Any) -> str | Later:
    return value if isinstance(value, Later) else str(value)
