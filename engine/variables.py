"""Variables: `-e` extra vars, `vars_files`, and the per-host scope in precedence
order (lowest first): inventory (group < host), play `vars`, play `vars_files`,
registered results, extra vars.
"""

from __future__ import annotations

import os
import shlex
from collections import ChainMap
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from engine.errors import InputError, Location
from engine.nested import strings
from engine.templating import is_template
from engine.yamlfile import load_yaml, load_yaml_file, where


def parse_extra_vars(options: Sequence[str]) -> dict[str, Any]:
    """`-e KEY=VALUE` (a string), `-e @file.yml` (YAML or JSON), `-e '{"k": 1}'`; later wins."""
    merged: dict[str, Any] = {}
    for option in options:
        at = Location(f"-e {option}")
        if option == "@":
            raise InputError("-e @ needs a file name: -e @vars.yml", at)
        if option.startswith("@"):
            merged.update(_vars_mapping(load_yaml_file(option[1:]), Location(option[1:])))
        elif option.lstrip().startswith("{"):
            merged.update(_vars_mapping(load_yaml(option, "-e"), at))
        elif "=" in option:
            for pair in _split_pairs(option):
                key, _, value = pair.partition("=")
                _check_name(key, at)
                _check_encodable(value, at)
                merged[key] = value
        else:
            raise InputError("an extra var is KEY=VALUE, @file.yml or a JSON mapping, "
                             f"not {option!r}", at)
    return merged


def _split_pairs(option: str) -> list[str]:
    """`-e "a=1 b=2"` sets two vars as in Ansible; a value may contain spaces if quoted."""
    try:
        pairs = shlex.split(option)
    except ValueError as error:
        raise InputError(f"cannot parse extra vars: {error}", Location(f"-e {option}")) from None
    if not all("=" in pair for pair in pairs):
        return [option]  # one value with spaces: `-e "motd=hello world"` is not two pairs
    return pairs


def _check_name(name: str, at: Location) -> None:
    if not name.isidentifier():
        raise InputError(f"{name!r} is not a valid variable name (letters, digits and _, "
                         "not starting with a digit)", at)


def _check_encodable(value: str, at: Location) -> None:
    """A command line that is not UTF-8 reaches Python as lone surrogates (\\udcff), which
    no host can be sent: refused here rather than failing every step that uses the value."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"the value {value!r} is not valid UTF-8 text; hosts are sent "
                         "UTF-8", at) from None


def _vars_mapping(document: Any, at: Location) -> dict[str, Any]:
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise InputError("a vars file must hold a mapping of variable names to values",
                         where(document, default=at))
    for key in document:
        _check_name(key, where(document, key, at))
    return dict(document)


def load_vars_files(paths: Sequence[str]) -> dict[str, Any]:
    """Read a play's `vars_files` in order, later files overriding earlier ones."""
    merged: dict[str, Any] = {}
    for path in paths:
        merged.update(_vars_mapping(load_yaml_file(path), Location(path)))
    return merged


def static_magic(host: str, host_groups: Iterable[str], groups: Mapping[str, list[str]],
                 playbook_dir: str) -> dict[str, Any]:
    """The magic variables of a host that are known before the run (the run adds
    hostvars, play_hosts and the lookups)."""
    return {"inventory_hostname": host, "inventory_hostname_short": host.split(".")[0],
            "groups": groups,
            "group_names": [group for group in host_groups if group not in ("all", "ungrouped")],
            "playbook_dir": playbook_dir}


def playbook_dir(playbook_path: str) -> str:
    return os.path.dirname(os.path.abspath(playbook_path))


def host_scope(host: str, inventory_vars: Mapping[str, Any], play_vars: Mapping[str, Any],
               file_vars: Mapping[str, Any], extra_vars: Mapping[str, Any],
               magic: Mapping[str, Any], registered: Mapping[str, Any] | None = None, *,
               task_vars: Mapping[str, Any] | None = None,
               role_defaults: Mapping[str, Any] | None = None) -> Scope:
    """The variables `host` sees in one play, as its templates read them; the one builder
    for the pre-run checks and the run, so the two cannot drift apart. Highest first: extra
    vars, registered results, a task's vars (its role's vars and params, its blocks' and
    its own `vars:`), vars files, play vars, magic variables, inventory vars, its role's
    defaults.

    What a host answered and the magic variables (a host's own name) are data, never
    rendered again; a play var, vars file or extra var of the same name is a var."""
    registered = dict(registered or {})
    task_vars = dict(task_vars or {})
    layers = ChainMap(dict(extra_vars), registered, task_vars, dict(file_vars), dict(play_vars),
                      {**(role_defaults or {}), **inventory_vars, **magic})
    # (registered results are shadowed only by extra vars, magic by every var above it)
    data = (frozenset(registered) - frozenset(extra_vars)) | (
        frozenset(magic) - frozenset(play_vars) - frozenset(file_vars) - frozenset(extra_vars)
        - frozenset(task_vars))
    return Scope(layers, data=data)


class Scope(Mapping[str, Any]):
    """Variables as a template sees them: a value that is itself a template is rendered
    when read, against the same scope (Ansible's lazy variables), once.

    `data` names hold what a run found out (registered results, a loop's item): their
    values are never rendered again, so that a command's output that looks like a template
    stays text (as Ansible marks task results unsafe)."""

    def __init__(self, layers: Mapping[str, Any], data: frozenset[str] = frozenset()) -> None:
        self._layers = layers
        self._data = data
        self._rendered: dict[str, Any] = {}
        self._resolving: set[str] = set()

    def __getitem__(self, name: str) -> Any:
        if name in self._rendered:
            return self._rendered[name]
        value = self._layers[name]
        if name in self._data or not any(is_template(text) for text in strings(value, keys=False)):
            return value
        from engine.templating import render

        if name in self._resolving:
            others = sorted(self._resolving - {name})
            through = f"through {', '.join(map(repr, others))}" if others else "in its own value"
            raise InputError(f"variable {name!r} refers to itself {through}: give one of them "
                             "a value that reads none of the others")
        self._resolving.add(name)
        try:
            self._rendered[name] = render(value, self)
        finally:
            self._resolving.discard(name)
        return self._rendered[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._layers)

    def __len__(self) -> int:
        return len(self._layers)

    def __contains__(self, name: object) -> bool:
        return name in self._layers

    def is_data(self, name: str) -> bool:
        """Whether `name` holds what a run found out, never rendered again."""
        return name in self._data

    def raw(self, name: str) -> Any:
        """The value as written, templates unrendered."""
        return self._layers[name]

    def child(self, values: Mapping[str, Any]) -> Scope:
        """This scope with `values` on top (a loop's `item`, a just-registered result): data,
        already rendered or found out on a host."""
        return Scope(ChainMap(dict(values), self._layers),  # type: ignore[arg-type]
                     self._data | frozenset(values))
