"""Rendered values: for one host, each step's templates that are known before the run
are rendered and refused when Docker, POSIX or the registry would refuse the value (the
loader refused the literal ones already), and a container's `docker run` line must fit.
"""

from __future__ import annotations

import functools
from collections import ChainMap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from engine.actions.catalog import CATALOG
from engine.checks.undefined import templated_values
from engine.errors import InputError
from engine.local_files import find_local_file
from engine.nested import leaves, rebuilt, strings
from engine.output.redaction import MIN_SECRET, Redactor, secret_values
from engine.playbook import ContainerSpec, ServiceSpec, Step, TaskSpec
from engine.playbook.keywords import loop_items
from engine.playbook.values import (
    Later,
    Problem,
    container_problems,
    hiding,
    service_problems,
    task_problems,
)
from engine.schema import type_name
from engine.templating import is_template, names_in_template, render_text, template_errors
from engine.variables import Scope


class PlayRenders:
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


class RenderedValues:
    """Renders, for one host, the templates of each step that are known before the run,
    and refuses values Docker, POSIX or the registry would refuse (the loader already did so
    for the values written literally). Templates that read run-time values (registered
    results, a loop over them, the services() lookup) are left to the run."""

    def __init__(self, host: str, scope: Scope, play: PlayRenders) -> None:
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
        spec = body.per_host_fields() if raw is None else self._render(raw, self.scope)
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
        return rebuilt(value, lambda leaf: self._render_leaf(leaf, scope),
                       key=lambda key: self._render_key(key, scope))

    def _render_key(self, key: Any, scope: Scope) -> Any:
        rendered = self._render_leaf(key, scope)
        if not isinstance(rendered, (str, int, float, bool, Later)):
            return Later(key)  # a list or mapping: not a name; the run says so
        return rendered

    def _render_leaf(self, value: Any, scope: Scope) -> Any:
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
            return False  # reported by HostChecker
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
    could make one."""
    found = [leaf for _, leaf in leaves([name, spec, play_name])]
    if any(isinstance(leaf, Later) for leaf in found):
        return  # rendered when it runs, and checked then
    from engine.containers.docker import could_pass_command_line_limit, run_line_problem

    if not env_files and not could_pass_command_line_limit(
            leaf for leaf in found if isinstance(leaf, str)):
        return
    from engine.containers.desired import env_file_values
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
    if not is_template(step.name) and all(is_expression for _, _, is_expression
                                          in templated_values(step)):
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
