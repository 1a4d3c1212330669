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
from engine.actions.setup import FACT_NAMES, as_variables
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
from engine.schema import type_name
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
# what `gather_facts: true` defines on every host before the play's first task
FACT_VARIABLES = frozenset(as_variables(dict.fromkeys(FACT_NAMES)))


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
        registered |= set(_names_set_at_run_time(play))
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
            known = MAGIC_VARIABLES | registered | (FACT_VARIABLES if play.gather_facts else set())
            checker = _HostChecker(host, scope, known, step_values)
            values = _RenderedValues(host, scope, renders)
            for step in play.steps:
                if isinstance(step.body, TaskSpec) and (step.body.vars or step.body.defaults):
                    # a role's or block's task: its own vars and the role's defaults too
                    own = host_scope(host, inventory_host.vars, play.vars, file_vars,
                                     extra_vars, magic, task_vars=step.body.vars,
                                     role_defaults=step.body.defaults)
                    shared = ChainMap(dict(extra_vars), step.body.vars, file_vars, play.vars)
                    _HostChecker(host, own, known, step_values).check_step(play, step)
                    _RenderedValues(host, own, _PlayRenders(play.name, shared, registered)
                                    ).check_step(step)
                    continue
                checker.check_step(play, step)
                values.check_step(step)


def _names_set_at_run_time(play: Play) -> Iterator[str]:
    """The variables a play's tasks make while it runs: `register` and set_fact's names."""
    for step in play.steps:
        task = step.body
        if isinstance(task, TaskSpec):
            if task.register:
                yield task.register
            if task.action == "set_fact" and isinstance(task.args, Mapping):
                yield from (str(name) for name in task.args)


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
        # a step with `when:` may be skipped on this host: what it would fail to render
        # (`{{ a.b }}` under `when: a.b is defined`) is left to the run
        self.may_skip = False

    def check_step(self, step: Step) -> None:
        self.may_skip = getattr(step.body, "when", None) is not None
        try:
            self._check_step(step)
        except _RenderFailed as failed:
            raise InputError(f"{step.label!r} cannot be rendered for host {self.host!r}: "
                             f"{self._secrets.text(failed.reason)}", step.source) from None

    def _check_step(self, step: Step) -> None:
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
        items = self._render(task.loop, self.scope)
        if isinstance(items, Later) or (isinstance(items, list) and any(
                isinstance(item, Later) for item in items)):
            return  # a loop over run-time values: its items are checked when it runs
        if task.loop_kind in ("loop", "list") and not isinstance(items, list):
            if self.may_skip:
                return
            raise _RenderFailed(f"'loop' must render to a list, not {type_name(items)} "
                                f"({_short_value(items)}); write loop: [a, b] or a variable "
                                "that holds a list")
        try:
            items = loop_items(task.loop_kind, items)  # with_items, with_dict
        except ValueError as error:
            if self.may_skip:
                return
            raise _RenderFailed(f"{error} ({_short_value(items)})") from None
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
            bases = task.sources or (step.source.file,)
            find_local_file(tuple(Path(base) for base in bases), folder, source, step.source)
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
                if _is_undefined(rendered):  # `{{ conf.port }}` alone: Undefined, not raised
                    str(rendered)
            except template_errors(InputError, ValueError, TypeError, LookupError) as error:
                # every variable it reads is known now, the lookups included: the run
                # would fail on the same values
                if self.may_skip:
                    return Later(value)
                reason = error.message if isinstance(error, InputError) else str(error)
                # the loader's types are plain mappings and lists to the user
                reason = reason.replace("'engine.yamlfile.YamlMap object'", "the mapping") \
                    .replace("'engine.yamlfile.YamlList object'", "the list")
                raise _RenderFailed(f"{_short_value(value)}: {reason}") from None
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

    def _is_known_now(self, text: str, scope: Scope, seen: frozenset[str] = frozenset()
                      ) -> bool:
        """Whether every variable `text` reads, through the values of the variables it
        reads too, exists before the run (a var whose value reads a registered result
        renders only when it runs)."""
        import jinja2

        try:
            # a guarded name counts too: `fact.address | default(x)` still reads `fact`,
            # which a run may define (gather_facts, register) and a check cannot
            names = names_in_template(text, with_guarded=True)
        except jinja2.TemplateSyntaxError:
            return False  # reported by _HostChecker
        for name, _ in names:
            if name not in scope or name in self.play.registered:
                return False
            if name in seen or scope.is_data(name):
                continue  # a var that reads itself: rendering it says so
            inner = [value for value in strings(scope.raw(name)) if is_template(value)]
            if not all(self._is_known_now(value, scope, seen | {name}) for value in inner):
                return False
        return True

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
    `'"'"'`), plus a flag before it; twice: the `play.spec` label may hold a value again."""
    found = [leaf for _, leaf in leaves([name, spec, play_name])]
    if any(isinstance(leaf, Later) for leaf in found):
        return  # rendered when it runs, and checked then
    bound = 1024 + sum(2 * (5 * len(leaf.encode("utf-8", "surrogateescape")) + 32)
                       for leaf in found if isinstance(leaf, str))
    if bound <= MAX_COMMAND_LINE and not env_files:
        return
    from engine.containers.desired import env_file_values
    from engine.containers.docker import run_line_problem
    from engine.containers.facts import ContainerError
    from engine.containers.spec import desired_container

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


def _is_undefined(value: Any) -> bool:
    import jinja2

    return isinstance(value, jinja2.Undefined)


class _RenderFailed(Exception):
    """A template whose variables are all known before the run fails to render: the run
    would fail the same way, so it is refused now."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _short_value(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _text(value: Any) -> str | Later:
    return value if isinstance(value, Later) else str(value)
