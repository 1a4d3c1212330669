"""Ansible's task and play keywords beyond play's own: the `with_*` loops, `loop_control`,
`become_user`, `remote_user`, `environment`, `args:` and the free-form `chdir= creates=
removes=` of `command`/`shell`, read into plain values for the loader (engine/playbook/
load.py), with Ansible's semantics (ansible-core's parsing/mod_args.py and splitter.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from engine.errors import InputError
from engine.schema import Fields, type_name
from engine.templating import is_template

LOOP_KEYS = ("loop", "with_items", "with_list", "with_dict")
TASK_KEYWORDS = (*LOOP_KEYS[1:], "loop_control", "become_user", "remote_user", "environment",
                 "args")
PLAY_KEYWORDS = ("become_user", "remote_user", "environment")
LOOP_CONTROL_KEYS = ("loop_var", "index_var", "label")
# The k=v words Ansible takes out of a free-form command/shell line (mod_args.py's
# RAW_PARAM_MODULES with parse_kv's check_raw): wherever they stand in the line.
FREE_FORM_OPTIONS = {"command": ("chdir", "creates", "removes", "stdin"),
                     "shell": ("chdir", "creates", "removes", "executable", "stdin")}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class LoopSpec:
    """What a task loops over and how each item is named and shown."""

    kind: str = "loop"              # "loop" | "items" | "list" | "dict" (with_<kind>)
    items: Any = None               # a list, or a template that renders to one
    loop_var: str = "item"
    index_var: str | None = None
    label: Any = None               # a template rendered per item: what the output shows


def read_loop(fields: Fields, what: str) -> LoopSpec | None:
    given = [key for key in LOOP_KEYS if fields.has(key)]
    if len(given) > 1:
        raise InputError(f"{what} has both {given[0]!r} and {given[1]!r}; a task loops over "
                         "one list", fields.at(given[1]))
    if not given:
        if fields.has("loop_control"):
            raise InputError(f"'loop_control' of {what} needs 'loop' (or with_items, ...) "
                             "beside it", fields.at("loop_control"))
        return None
    key = given[0]
    items = fields.raw(key)
    is_dict = key == "with_dict"
    if not is_template(items) and not (isinstance(items, dict) if is_dict else
                                       isinstance(items, list)):
        expected = "a mapping" if is_dict else "a list"
        raise InputError(f"{key!r} of {what} must be {expected} or a template that renders "
                         f"to one, not {type_name(items)}", fields.at(key))
    control = _loop_control(fields, what)
    return LoopSpec(kind="loop" if key == "loop" else key[len("with_"):], items=items,
                    **control)


def _loop_control(fields: Fields, what: str) -> dict[str, Any]:
    if fields.raw("loop_control") is None:
        return {}
    control = Fields(fields.raw("loop_control"), f"the loop_control of {what}",
                     fields.at("loop_control"))
    control.reject_unknown(LOOP_CONTROL_KEYS)
    found: dict[str, Any] = {}
    for key in ("loop_var", "index_var"):
        name = control.string(key)
        if name is None:
            continue
        if not str(name).isidentifier():
            raise InputError(f"{key} of {what} must be a variable name (letters, digits and _), "
                             f"not {name!r}", control.at(key))
        found[key] = name
    if control.has("label"):
        found["label"] = control.raw("label")
    return found


def loop_items(kind: str, rendered: Any) -> list[Any]:
    """The items of a rendered loop, as Ansible's lookups give them: `with_items` flattens
    one level, `with_dict` gives key/value items. ValueError (a failed step) otherwise."""
    if kind == "dict":
        if not isinstance(rendered, dict):
            raise ValueError(f"with_dict must give a mapping, not {type(rendered).__name__}")
        return [{"key": key, "value": value} for key, value in rendered.items()]
    if kind == "items" and not isinstance(rendered, list):
        rendered = [rendered]  # with_items: "{{ one_name }}" loops once over it
    if not isinstance(rendered, list):
        raise ValueError(f"loop must give a list, not {type(rendered).__name__}")
    if kind == "items":
        return [item for entry in rendered
                for item in (entry if isinstance(entry, list) else [entry])]
    return rendered


def read_environment(fields: Fields, what: str) -> Any:
    """`environment:` a mapping of names to values (templates allowed), or one template that
    renders to such a mapping, or a list of them merged in order (as Ansible's list, and
    what a task inherits: engine/playbook/structure.py); None when not given."""
    value = fields.raw("environment")
    if isinstance(value, list):
        return [_environment_layer(layer, fields, what) for layer in value]
    return _environment_layer(value, fields, what)


def merged_environment(outer: Any, inner: Any) -> Any:
    """Ansible's inheritance of `environment:`: the outer's names (a play's, a role's, a
    block's), then the inner's, which wins per name; one mapping when both are mappings,
    else the list of both, merged once rendered."""
    if outer is None or inner is None:
        return inner if outer is None else outer
    layers = [*(outer if isinstance(outer, list) else [outer]),
              *(inner if isinstance(inner, list) else [inner])]
    if all(isinstance(layer, dict) for layer in layers):
        return {name: item for layer in layers for name, item in layer.items()}
    return layers


def _environment_layer(value: Any, fields: Fields, what: str) -> Any:
    if value is None or is_template(value):
        return value
    if not isinstance(value, dict):
        raise InputError(f"'environment' of {what} must be a mapping of variable names to "
                         f"values, not {type_name(value)}", fields.at("environment"))
    for name, item in value.items():
        check_env_name(name, fields.at("environment"))
        if isinstance(item, (dict, list)):
            raise InputError(f"environment {name} of {what} must be a plain value, not "
                             f"{type_name(item)}", fields.at("environment"))
    return dict(value)


def check_env_name(name: Any, at: Any) -> None:
    if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
        raise InputError(f"{name!r} is not an environment variable name (letters, digits and "
                         "_, not starting with a digit)", at)


def rendered_environment(value: Any) -> dict[str, str]:
    """A rendered `environment:` as the strings a command receives (ValueError otherwise)."""
    if value is None:
        return {}
    if isinstance(value, list):  # layers: a later one's names win
        return {name: item for layer in value for name, item in
                rendered_environment(layer).items()}
    if not isinstance(value, dict):
        raise ValueError(f"environment must render to a mapping, not {type(value).__name__}")
    found: dict[str, str] = {}
    for name, item in value.items():
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not an environment variable name")
        if isinstance(item, (dict, list)):
            raise ValueError(f"environment {name} must be a plain value, not "
                             f"{type(item).__name__}")
        found[name] = "" if item is None else str(item).lower() if isinstance(
            item, bool) else str(item)
    return found


def split_free_form(action: str, line: str) -> dict[str, Any] | str:
    """`chdir=/srv creates=out.txt make all` as Ansible reads it: the option words (anywhere
    in the line, quotes around their values removed) become arguments, the other words, as
    written, the command. The line unchanged when it has no option word."""
    options: dict[str, Any] = {}
    words: list[str] = []
    for word in _split_words(line):
        key, equals, value = word.partition("=")
        if equals and key in FREE_FORM_OPTIONS[action]:
            options[key] = _unquoted(value)
        else:
            words.append(word)
    if not options:
        return line
    return {**options, "cmd": " ".join(words)}


def split_key_values(written: str, line: str) -> dict[str, Any]:
    """`msg="hello {{ x }}" verbosity=1` as Ansible's parse_kv reads an action written on one
    line: each word a key=value (quotes around the value removed, a template kept whole)."""
    found: dict[str, Any] = {}
    for word in _split_words(line):
        key, equals, value = word.partition("=")
        if not equals or not key.isidentifier():
            raise ValueError(f"the {written!r} action written on one line takes key=value "
                             f"words (msg=\"hello {{{{ name }}}}\"), and {word!r} is none; "
                             "or write its arguments as a mapping")
        found[key] = _unquoted(value)
    return found


def _split_words(line: str) -> list[str]:
    """Words split on blanks outside quotes and outside `{{ }}` / `{% %}` (Ansible's
    split_args), each kept as written, quotes included."""
    words: list[str] = []
    current: list[str] = []
    quote = ""
    depth = 0
    index = 0
    while index < len(line):
        char, pair = line[index], line[index:index + 2]
        if not quote and pair in ("{{", "{%"):
            depth += 1
            current.append(pair)
            index += 2
            continue
        if not quote and depth and pair in ("}}", "%}"):
            depth -= 1
            current.append(pair)
            index += 2
            continue
        if quote and char == "\\" and index + 1 < len(line):
            current.append(line[index:index + 2])
            index += 2
            continue
        if char in "\"'" and not depth and (not quote or quote == char):
            quote = "" if quote else char
        if char.isspace() and not quote and not depth:
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(char)
        index += 1
    if current:
        words.append("".join(current))
    return words


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def merged_args(action: str, inline: Any, extra: Any, at: Any) -> Any:
    """An action's arguments with `args:` under them (the action's own win, as in Ansible);
    a free-form line first split into its command and options."""
    if isinstance(inline, str) and action in FREE_FORM_OPTIONS:
        inline = split_free_form(action, inline)
    if extra is None:
        return inline
    if not isinstance(extra, dict):
        raise InputError(f"'args' must be a mapping of the action's arguments, not "
                         f"{type_name(extra)}", at)
    if isinstance(inline, str):
        return {**extra, "cmd": inline} if action in FREE_FORM_OPTIONS else inline
    if inline is None:
        return dict(extra)
    if not isinstance(inline, dict):
        return inline  # the action's own reader says what is wrong with it
    return {**extra, **inline}
