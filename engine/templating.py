"""Jinja2 for play: one environment with undefined variables as errors, and the
analysis that finds which variables a template needs before anything runs.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
import jinja2.nodes

# Names a template may always use: magic variables set per host at run time.
MAGIC_VARIABLES = frozenset({
    "inventory_hostname", "inventory_hostname_short", "hostvars", "groups", "group_names",
    "play_hosts", "ansible_play_hosts", "ansible_play_batch", "playbook_dir", "omit",
})


def _lookup_env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise jinja2.UndefinedError(f"environment variable {name!r} is not set")
    return value


def _lookup_file(path: str) -> str:
    return Path(path).expanduser().read_text(encoding="utf-8").rstrip("\n")


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=False)
    env.globals["env"] = _lookup_env
    env.globals["file"] = _lookup_file
    # services() needs the registry; it is bound per run by the executor.
    env.globals["services"] = _unbound_services
    return env


def _unbound_services(name: str) -> list[dict[str, Any]]:
    raise jinja2.UndefinedError("services() is only available while a playbook runs")


def global_names() -> frozenset[str]:
    return frozenset(environment().globals)


@functools.lru_cache(maxsize=4096)
def names_in_template(text: str) -> tuple[tuple[str, int], ...]:
    """The variables a template reads without defining them, with the line of first use
    (1-based, within the template). Raises `jinja2.TemplateSyntaxError`."""
    tree = environment().parse(text)
    undeclared = jinja2.meta.find_undeclared_variables(tree) - global_names()
    guarded = _guarded_names(tree)
    first_line: dict[str, int] = {}
    for node in tree.find_all(jinja2.nodes.Name):
        if node.name in undeclared and node.ctx == "load" and id(node) not in guarded:
            first_line.setdefault(node.name, node.lineno)
    return tuple(sorted(first_line.items(), key=lambda item: (item[1], item[0])))


def _guarded_names(tree: jinja2.nodes.Template) -> set[int]:
    """Name nodes a template expects may be missing: `x is defined`, `x | default(...)`."""
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
    return names_in_template("{{ (" + expression + ") }}")


def is_template(value: object) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value or "{#" in value)
