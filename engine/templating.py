"""Jinja2 for play: one environment with undefined variables as errors, and the
analysis that finds which variables a template needs before anything runs.

jinja2 is imported with the first template: a playbook without `{{ }}` never loads it
(~45 ms). Callers catch `template_errors()`, which names jinja2's errors once loaded.
"""

from __future__ import annotations

import functools
import itertools
import os
import sys
from collections import ChainMap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.nested import rebuilt

if TYPE_CHECKING:
    import jinja2
    import jinja2.nodes
    import jinja2.runtime

# Names a template may always use: magic variables set per host at run time.
MAGIC_VARIABLES = frozenset({
    "inventory_hostname", "inventory_hostname_short", "hostvars", "groups", "group_names",
    "play_hosts", "ansible_play_hosts", "ansible_play_batch", "playbook_dir", "omit",
    "services",  # the registry lookup, bound per run into each host's scope
})


def template_errors(*also: type[Exception]) -> tuple[type[Exception], ...]:
    """For an `except` clause: jinja2's errors and `also`. Before jinja2 is loaded nothing
    was rendered, so no jinja2 error can happen. (An undefined value that escaped its
    template raises when used, which is why callers catch around more than `render`.)"""
    jinja2 = sys.modules.get("jinja2")
    if jinja2 is None:
        return also
    from engine.filters import FilterError  # loaded with jinja2: Ansible's filters raise it

    return (jinja2.TemplateError, FilterError, *also)


def is_undefined_error(error: Exception) -> bool:
    jinja2 = sys.modules.get("jinja2")
    return jinja2 is not None and isinstance(error, jinja2.UndefinedError)


def defined(value: Any) -> Any:
    """`value`, or the UndefinedError it stands for: a template that is one undefined name
    renders to the Undefined itself, which raises only once it is used."""
    jinja2 = sys.modules.get("jinja2")
    if jinja2 is not None and isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    return value


def _lookup_env(name: str, default: str | None = None) -> str:
    import jinja2

    value = os.environ.get(name, default)
    if value is None:
        raise jinja2.UndefinedError(f"environment variable {name!r} is not set")
    return value


def _lookup_file(context: Any, path: str) -> str:
    """Ansible's `lookup('file')`: a relative path is looked up beside the playbook (its
    `files/` folder, then the folder itself), not in the working directory. A file that
    cannot be read as text is a ValueError: a failed step at run time, exit 4 before."""
    candidates = [Path(path).expanduser()]
    folder = context.get("playbook_dir")
    if not candidates[0].is_absolute() and isinstance(folder, str):
        candidates = [Path(folder) / "files" / path, Path(folder) / path]
    found = candidates[-1]
    try:
        found = next((candidate for candidate in candidates if candidate.exists()), found)
        content = found.read_bytes()
    except OSError as error:  # missing, a folder, unreadable, a name too long
        looked = ", ".join(str(candidate) for candidate in candidates)
        raise ValueError(f"file({path!r}) cannot be read: {error.strerror or error} "
                         f"(looked for {looked})") from None
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        text = "\0"
    if "\0" in text:
        raise ValueError(f"file({path!r}) reads {found}, which is not UTF-8 text (a binary "
                         "file?); file() returns text, copy a binary file with copy: src")
    return text.rstrip("\n")


def _concat(values: Iterator[Any]) -> Any:
    """A template that is one expression keeps its value's type (`{{ ports }}` stays a
    list); anything else is text. Unlike Jinja's native mode, text is never re-parsed
    as a Python literal, so "0644" or "1.10" stay strings."""
    head = list(itertools.islice(values, 2))
    if not head:
        return ""
    if len(head) == 1:
        return head[0]
    return "".join(str(value) for value in itertools.chain(head, values))


@functools.cache
def environment() -> jinja2.Environment:
    import jinja2
    from jinja2.nativetypes import NativeEnvironment
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from engine.filters import FILTERS, TESTS

    # Sandboxed: a template reaches only plain data, never Python internals. Without it,
    # a value such as `{{ cycler.__init__.__globals__.os.popen('...') }}` (an -e value, a
    # host var) would run a command on the control node when rendered. Immutable: a
    # template cannot change the data it reads either (`hostvars[h].update(...)`, a
    # list var's `.append(...)`), which other hosts' steps would then see.
    class PlayEnvironment(ImmutableSandboxedEnvironment, NativeEnvironment):
        concat = staticmethod(_concat)  # type: ignore[assignment]

    # trim_blocks as in Ansible: a `{% for %}` line leaves no blank line behind
    env = PlayEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                          trim_blocks=True,
                          autoescape=False)
    env.globals["env"] = _lookup_env
    env.globals["file"] = jinja2.pass_context(_lookup_file)
    env.globals["lookup"] = jinja2.pass_context(_lookup)
    env.globals["query"] = env.globals["q"] = jinja2.pass_context(_query)
    env.filters.update(FILTERS)  # Ansible's (engine/filters.py, `quote` among them)
    env.tests.update(TESTS)
    return env


def _lookup(context: jinja2.runtime.Context, name: str, *terms: Any, wantlist: bool = False,
            **options: Any) -> Any:
    """Ansible's `lookup('env'|'file'|'template', ...)` (engine/filters.py); a template
    lookup renders against the variables of the template that calls it."""
    from engine.filters import run_lookup

    return run_lookup(name, terms, options, context.parent, render_text, wantlist)


def _query(context: jinja2.runtime.Context, name: str, *terms: Any, **options: Any) -> Any:
    from engine.filters import run_lookup

    return run_lookup(name, terms, options, context.parent, render_text, True)


def global_names() -> frozenset[str]:
    return frozenset(environment().globals)


@functools.lru_cache(maxsize=4096)
def names_in_template(text: str, with_guarded: bool = False) -> tuple[tuple[str, int], ...]:
    """The variables a template reads without defining them, with the line of first use
    (1-based, within the template); those guarded by `is defined` or `default()` only
    `with_guarded`. Raises `jinja2.TemplateSyntaxError`."""
    import jinja2

    try:
        return _names_in_template(text, with_guarded)
    except RecursionError:
        # Jinja's parser and tree walks recurse once per bracket or block level
        raise jinja2.TemplateSyntaxError("brackets, parentheses or blocks nest too deeply",
                                         1) from None


def _names_in_template(text: str, with_guarded: bool) -> tuple[tuple[str, int], ...]:
    import jinja2.meta
    import jinja2.nodes

    tree = environment().parse(text)
    _refuse_internals(tree)
    undeclared = jinja2.meta.find_undeclared_variables(tree) - global_names()
    guarded = set() if with_guarded else _guarded_names(tree)
    first_line: dict[str, int] = {}
    for node in tree.find_all(jinja2.nodes.Name):
        if node.name in undeclared and node.ctx == "load" and id(node) not in guarded:
            first_line.setdefault(node.name, node.lineno)
    return tuple(sorted(first_line.items(), key=lambda item: (item[1], item[0])))


# What `services_read` returns for a call whose name is not written literally.
ANY_SERVICE = "*"


@functools.lru_cache(maxsize=4096)
def services_read(text: str) -> frozenset[str]:
    """The services a template looks up with `services('name')`; ANY_SERVICE for a call
    whose name is computed. Empty for text that is no template or does not parse (the
    pre-run checks report that)."""
    if "services" not in text or not is_template(text):
        return frozenset()  # and a playbook without templates never imports jinja2
    import jinja2
    import jinja2.nodes

    try:
        tree = environment().parse(text)
    except (jinja2.TemplateSyntaxError, RecursionError):
        return frozenset()
    names = set()
    for call in tree.find_all(jinja2.nodes.Call):
        if not (isinstance(call.node, jinja2.nodes.Name) and call.node.name == "services"):
            continue
        first = call.args[0] if call.args else None
        is_literal = isinstance(first, jinja2.nodes.Const) and isinstance(first.value, str)
        names.add(first.value if is_literal else ANY_SERVICE)  # type: ignore[union-attr]
    return frozenset(names)


def _refuse_internals(tree: jinja2.nodes.Template) -> None:
    """`x.__class__`, `x['__globals__']`, `x | attr('__init__')`: the sandbox refuses them when
    rendered (a failed step); refused here, they are exit 4 before anything runs."""
    import jinja2.nodes

    for node in tree.find_all((jinja2.nodes.Getattr, jinja2.nodes.Getitem,
                               jinja2.nodes.Filter)):
        name: object = None
        if isinstance(node, jinja2.nodes.Getattr):
            name = node.attr
        elif isinstance(node, jinja2.nodes.Getitem) and isinstance(node.arg, jinja2.nodes.Const):
            name = node.arg.value
        elif isinstance(node, jinja2.nodes.Filter) and node.name == "attr" and node.args \
                and isinstance(node.args[0], jinja2.nodes.Const):
            name = node.args[0].value
        if isinstance(name, str) and name.startswith("__"):
            raise jinja2.TemplateSyntaxError(
                f"templates cannot read {name!r}: names starting with '__' are Python "
                "internals, not data", node.lineno)
    _refuse_unknown_lookups(tree)


def _refuse_unknown_lookups(tree: jinja2.nodes.Template) -> None:
    """`lookup('pipe', ...)`: an Ansible lookup play does not have is exit 4 before the run
    (Ansible's pipe or password lookups would run or write on the control node)."""
    import jinja2.nodes

    from engine.filters import LOOKUPS

    for call in tree.find_all(jinja2.nodes.Call):
        is_lookup = isinstance(call.node, jinja2.nodes.Name) and call.node.name in (
            "lookup", "query", "q")
        if is_lookup and call.args and isinstance(call.args[0], jinja2.nodes.Const) and \
                call.args[0].value not in LOOKUPS:
            raise jinja2.TemplateSyntaxError(
                f"lookup {call.args[0].value!r} is not supported; play has "
                f"{', '.join(repr(known) for known in LOOKUPS)}", call.lineno)


def _guarded_names(tree: jinja2.nodes.Template) -> set[int]:
    """Name nodes a template expects may be missing: `x is defined`, `x | default(...)`."""
    import jinja2.nodes

    guarded: set[int] = set()
    for test in tree.find_all(jinja2.nodes.Test):
        if test.name in ("defined", "undefined"):
            guarded |= {id(name) for name in test.node.find_all(jinja2.nodes.Name)}
            if isinstance(test.node, jinja2.nodes.Name):
                guarded.add(id(test.node))
    for filter_node in tree.find_all(jinja2.nodes.Filter):
        if filter_node.name in ("default", "d") and filter_node.node is not None:
            guarded |= {id(name) for name in filter_node.node.find_all(jinja2.nodes.Name)}
            if isinstance(filter_node.node, jinja2.nodes.Name):
                guarded.add(id(filter_node.node))
    return guarded


def names_in_expression(expression: str) -> tuple[tuple[str, int], ...]:
    """Like `names_in_template`, for a bare expression (`when: result.rc == 0`)."""
    import jinja2

    try:
        return names_in_template("{{ (" + expression + ") }}")
    except jinja2.TemplateSyntaxError as error:
        # the error of the expression as written, not of the parentheses put around it
        # (`x ==` is "unexpected ')'" wrapped)
        try:
            environment().compile_expression(expression)
        except jinja2.TemplateSyntaxError as own:
            message = own.message or ""
            if "end of template" in message:
                message = (f"the expression {expression.strip()!r} ends where a value was "
                           "expected")
            raise jinja2.TemplateSyntaxError(message, own.lineno) from None
        raise error


def is_template(value: object) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value or "{#" in value)


@functools.lru_cache(maxsize=4096)
def _compiled(text: str) -> jinja2.Template:
    return environment().from_string(text)


def render_text(text: str, scope: Mapping[str, Any]) -> Any:
    """Render one template string against `scope` without copying it (a lazy `Scope`
    must stay lazy). Raises `jinja2.TemplateError` on undefined names."""
    template = _compiled(text)
    # shared=True keeps the scope lazy but also hides the environment's globals,
    # so they are layered under the scope here
    layered = ChainMap(scope, environment().globals)  # type: ignore[arg-type]
    context = template.new_context(layered, shared=True)  # type: ignore[arg-type]
    return environment().concat(template.root_render_func(context))


def render(value: Any, scope: Mapping[str, Any]) -> Any:
    """Render every template string inside `value` (mappings and lists included)."""
    if isinstance(value, str):   # most calls: one name or image (measured 2.7x faster so)
        return render_text(value, scope) if is_template(value) else value
    return rebuilt(value, lambda leaf: render_text(leaf, scope) if is_template(leaf) else leaf)


def evaluate(expression: str | bool, scope: Mapping[str, Any]) -> Any:
    """The value of a bare expression (`when: result.rc == 0`)."""
    if isinstance(expression, bool):
        return expression
    return render_text("{{ (" + expression + ") }}", scope)
