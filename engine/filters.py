"""Ansible's common Jinja2 filters, tests and lookups, for the one sandboxed environment of
engine/templating.py (which installs them when jinja2 is first loaded).

Each follows ansible-core's plugins/filter/core.py, plugins/test/core.py and the env, file
and template lookups; where play differs, the docstring says so. Filters never change the
data they are given (the sandbox is immutable; they return copies).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shlex
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import yaml

from engine.errors import InputError
from engine.sha_crypt import SCHEMES as CRYPT_SCHEMES
from engine.sha_crypt import sha_crypt
from engine.yamlfile import load_yaml


class FilterError(ValueError):
    """A filter or test given what it cannot use; the step fails with this message."""


# --- filters ---------------------------------------------------------------------------------


def to_bool(value: Any) -> bool | None:
    """Ansible's `bool`: yes/on/1/true (any case) and 1 are true, None stays None, anything
    else is false."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        value = value.lower()
    return value in ("yes", "on", "1", "true", 1)


def to_json(value: Any, **options: Any) -> str:
    return json.dumps(value, **options)


def to_nice_json(value: Any, indent: int = 4, sort_keys: bool = True, **options: Any) -> str:
    options.pop("separators", None)
    return json.dumps(value, indent=indent, sort_keys=sort_keys, separators=(",", ": "),
                      **options)


def _yaml_dump(value: Any, **options: Any) -> str:
    class Dumper(yaml.SafeDumper):
        """SafeDumper, also for the dict, list and str subclasses the loaders make."""

    Dumper.add_multi_representer(dict, yaml.SafeDumper.represent_dict)
    Dumper.add_multi_representer(list, yaml.SafeDumper.represent_list)
    Dumper.add_multi_representer(str, yaml.SafeDumper.represent_str)
    try:
        return str(yaml.dump(value, Dumper=Dumper, allow_unicode=True, **options))
    except yaml.YAMLError as error:
        raise FilterError(f"to_yaml: {error}") from None


def to_yaml(value: Any, **options: Any) -> str:
    options.setdefault("default_flow_style", None)
    return _yaml_dump(value, **options)


def to_nice_yaml(value: Any, indent: int = 4, **options: Any) -> str:
    options["default_flow_style"] = False
    return _yaml_dump(value, indent=indent, **options)


def from_json(text: Any) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise FilterError(f"from_json: not JSON: {error}") from None


def from_yaml(text: Any) -> Any:
    """Safe YAML (no Python objects), as the playbook loader reads it; a non-string passes
    through, as in Ansible."""
    if not isinstance(text, str):
        return text

    try:
        return load_yaml(text, "from_yaml")
    except InputError as error:
        raise FilterError(f"from_yaml: {error.message}") from None


def _flags(ignorecase: Any, multiline: Any) -> int:
    return (re.I if ignorecase else 0) | (re.M if multiline else 0)


def regex_replace(value: Any = "", pattern: str = "", replacement: str = "",
                  ignorecase: bool = False, multiline: bool = False, count: int = 0,
                  mandatory_count: int = 0) -> str:
    regex = _compile(pattern, _flags(ignorecase, multiline))
    output, done = regex.subn(replacement, str(value), count=count)
    if mandatory_count and mandatory_count != done:
        raise FilterError(f"regex_replace: {pattern!r} should match {mandatory_count} times, "
                          f"but matches {done} times in {str(value)!r}")
    return output


def regex_search(value: Any, pattern: str, *groups: str, ignorecase: bool = False,
                 multiline: bool = False) -> Any:
    """The match, or with group arguments (`'\\\\1'`, `'\\\\g<name>'`) the list of those
    groups; None when nothing matches."""
    wanted: list[int | str] = []
    for group in groups:
        named = re.fullmatch(r"\\g<(\S+)>", group)
        numbered = re.fullmatch(r"\\(\d+)", group)
        if named is None and numbered is None:
            raise FilterError(f"regex_search: a group argument is '\\\\1' or '\\\\g<name>', "
                              f"not {group!r}")
        wanted.append(named.group(1) if named else int(numbered.group(1)))  # type: ignore[union-attr]
    match = _compile(pattern, _flags(ignorecase, multiline)).search(str(value))
    if match is None:
        return None
    return [match.group(group) for group in wanted] if wanted else match.group()


def _compile(pattern: str, flags: int) -> re.Pattern[str]:
    try:
        return re.compile(pattern, flags)
    except re.error as error:
        raise FilterError(f"invalid regular expression {pattern!r}: {error}") from None


def b64encode(text: Any, encoding: str = "utf-8") -> str:
    return base64.b64encode(str(text).encode(encoding)).decode("ascii")


def b64decode(text: Any, encoding: str = "utf-8") -> str:
    try:
        return base64.b64decode(str(text).encode("ascii")).decode(encoding)
    except (ValueError, UnicodeError) as error:
        raise FilterError(f"b64decode: {error}") from None


_LIST_MERGES = ("replace", "keep", "append", "prepend", "append_rp", "prepend_rp")


def combine(*terms: Any, recursive: bool = False, list_merge: str = "replace") -> dict[str, Any]:
    """Later mappings win; `recursive=True` merges nested mappings; `list_merge` says what
    two lists under one key become (Ansible's merge_hash)."""
    if list_merge not in _LIST_MERGES:
        raise FilterError(f"combine: list_merge must be one of {', '.join(_LIST_MERGES)}, "
                          f"not {list_merge!r}")
    mappings: list[Any] = []
    for term in terms:  # `[a, b] | combine` as well as `a | combine(b)`
        mappings.extend(term if isinstance(term, (list, tuple)) else [term])
    merged: dict[str, Any] = {}
    for mapping in mappings:
        if not isinstance(mapping, Mapping):
            raise FilterError(f"combine expects mappings, got {type(mapping).__name__}")
        merged = _merge(merged, mapping, recursive, list_merge)
    return merged


def _merge(low: Mapping[str, Any], high: Mapping[str, Any], recursive: bool,
           list_merge: str) -> dict[str, Any]:
    merged = dict(low)
    for key, value in high.items():
        old = merged.get(key)
        if key not in merged:
            merged[key] = value
        elif isinstance(old, Mapping) and isinstance(value, Mapping):
            merged[key] = _merge(old, value, recursive, list_merge) if recursive else value
        elif isinstance(old, list) and isinstance(value, list):
            merged[key] = {
                "replace": value, "keep": old, "append": old + value, "prepend": value + old,
                "append_rp": [item for item in old if item not in value] + value,
                "prepend_rp": value + [item for item in old if item not in value],
            }[list_merge]
        else:
            merged[key] = value
    return merged


def dict2items(mapping: Any, key_name: str = "key", value_name: str = "value",
               ) -> list[dict[str, Any]]:
    if not isinstance(mapping, Mapping):
        raise FilterError(f"dict2items requires a dictionary, got {type(mapping).__name__}")
    return [{key_name: key, value_name: value} for key, value in mapping.items()]


def items2dict(items: Any, key_name: str = "key", value_name: str = "value") -> dict[Any, Any]:
    if not isinstance(items, (list, tuple)):
        raise FilterError(f"items2dict requires a list, got {type(items).__name__}")
    try:
        return {item[key_name]: item[value_name] for item in items}
    except (KeyError, TypeError):
        raise FilterError(f"items2dict requires each item to be a mapping with the keys "
                          f"{key_name!r} and {value_name!r}") from None


def ternary(value: Any, true_value: Any, false_value: Any, none_value: Any = None) -> Any:
    if value is None and none_value is not None:
        return none_value
    return true_value if value else false_value


def mandatory(value: Any, msg: str | None = None) -> Any:
    import jinja2

    if isinstance(value, jinja2.Undefined):
        name = getattr(value, "_undefined_name", None)
        raise FilterError(msg if msg is not None else
                          f"Mandatory variable {f'{name!r} ' if name else ''}not defined.")
    return value


def quote(value: Any) -> str:
    """One shell word, for `shell:` lines."""
    return shlex.quote("" if value is None else str(value))


def get_hash(data: Any, hashtype: str = "sha1") -> str:
    try:
        digest = hashlib.new(hashtype)
    except ValueError:
        raise FilterError(f"hash: unknown hash type {hashtype!r}; use one of "
                          f"{', '.join(sorted(hashlib.algorithms_guaranteed))}") from None
    digest.update(str(data).encode("utf-8"))
    return digest.hexdigest()


_SALT = re.compile(r"[./0-9A-Za-z]+")
_SALT_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def password_hash(password: Any, hashtype: str = "sha512", salt: str | None = None,
                  salt_size: int | None = None, rounds: int | None = None,
                  ident: str | None = None) -> str:
    """crypt(3)'s SHA-512 (`$6$`) and SHA-256 (`$5$`) hashes, computed here (the same
    result as glibc's crypt and passlib). Without `rounds`, crypt's 5000 (passlib, when
    Ansible has it, writes `rounds=656000`: both verify the same password). Without `salt`, a
    random one, so the hash differs each run: pass a salt to keep a task idempotent."""
    scheme = {"sha512": "sha512_crypt", "sha256": "sha256_crypt"}.get(hashtype, hashtype)
    if scheme not in CRYPT_SCHEMES:
        raise FilterError(f"password_hash: {hashtype!r} is not supported here; use 'sha512' "
                          "(or 'sha256'): md5_crypt and bcrypt would need passlib, which "
                          "play does not depend on")
    if salt is None:
        salt = "".join(secrets.choice(_SALT_ALPHABET) for _ in range(salt_size or 16))
    if not _SALT.fullmatch(salt):
        raise FilterError("password_hash: a salt is letters, digits, '.' and '/' only")
    return sha_crypt(str(password), salt, scheme, rounds)


def basename(path: Any) -> str:
    return os.path.basename(str(path))


def dirname(path: Any) -> str:
    return os.path.dirname(str(path))


FILTERS: dict[str, Callable[..., Any]] = {
    "bool": to_bool, "to_json": to_json, "to_nice_json": to_nice_json, "to_yaml": to_yaml,
    "to_nice_yaml": to_nice_yaml, "from_json": from_json, "from_yaml": from_yaml,
    "regex_replace": regex_replace, "regex_search": regex_search, "b64encode": b64encode,
    "b64decode": b64decode, "combine": combine, "dict2items": dict2items,
    "items2dict": items2dict, "basename": basename, "dirname": dirname, "ternary": ternary,
    "mandatory": mandatory, "quote": quote, "hash": get_hash, "password_hash": password_hash,
}


# --- tests: what a registered result says ---------------------------------------------------


def _result(value: Any, test: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise FilterError(f"The {test!r} test expects a dictionary (a registered result)")
    return value


def is_failed(value: Any) -> bool:
    return bool(_result(value, "failed").get("failed", False))


def is_succeeded(value: Any) -> bool:
    return not is_failed(value)


def is_changed(value: Any) -> bool:
    result = _result(value, "changed")
    if "changed" in result:
        return bool(result["changed"])
    items = result.get("results")  # a loop's result: changed when one item changed
    return isinstance(items, list) and bool(items) and isinstance(items[0], Mapping) and any(
        item.get("changed", False) for item in items)


def is_skipped(value: Any) -> bool:
    return bool(_result(value, "skipped").get("skipped", False))


TESTS: dict[str, Callable[[Any], bool]] = {
    "failed": is_failed, "failure": is_failed, "succeeded": is_succeeded,
    "success": is_succeeded, "successful": is_succeeded, "changed": is_changed,
    "change": is_changed, "skipped": is_skipped, "skip": is_skipped,
}


# --- lookups -------------------------------------------------------------------------------


def lookup_env(terms: Sequence[Any], options: Mapping[str, Any], scope: Mapping[str, Any],
               render_file: Callable[[str, Mapping[str, Any]], Any]) -> list[Any]:
    """Ansible's: an unset variable gives `default`, '' unless given (unlike play's own
    `env('NAME')`, which makes an unset one an error)."""
    default = options.get("default", "")
    return [os.environ.get(str(term).split()[0], default) for term in terms]


def _find(scope: Mapping[str, Any], folder: str, name: str) -> str:
    """Ansible's search for a lookup's file: `<playbook dir>/<folder>/`, then the playbook's
    folder, or the path itself when absolute."""
    path = os.path.expanduser(name)
    if os.path.isabs(path):
        candidates = [path]
    else:
        base = str(scope.get("playbook_dir") or os.getcwd())
        candidates = [os.path.join(base, folder, path), os.path.join(base, path)]
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    raise FilterError(f"the {folder[:-1]!r} lookup found no file {name!r} (looked in: "
                      f"{', '.join(candidates)})")


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as source:
        return source.read()


def lookup_file(terms: Sequence[Any], options: Mapping[str, Any], scope: Mapping[str, Any],
                render_file: Callable[[str, Mapping[str, Any]], Any]) -> list[Any]:
    found: list[Any] = []
    for term in terms:
        text = _read(_find(scope, "files", str(term)))
        text = text.lstrip() if options.get("lstrip", False) else text
        found.append(text.rstrip() if options.get("rstrip", True) else text)
    return found


def lookup_template(terms: Sequence[Any], options: Mapping[str, Any], scope: Mapping[str, Any],
                    render_file: Callable[[str, Mapping[str, Any]], Any]) -> list[Any]:
    return [render_file(_read(_find(scope, "templates", str(term))), scope) for term in terms]


LOOKUPS = {"env": lookup_env, "file": lookup_file, "template": lookup_template}


def run_lookup(name: str, terms: Sequence[Any], options: Mapping[str, Any],
               scope: Mapping[str, Any], render_file: Callable[[str, Mapping[str, Any]], Any],
               wantlist: bool) -> Any:
    """`lookup(...)` joins several results with ',' (one stays itself); `query(...)` and
    `wantlist=True` give the list, as in Ansible."""
    lookup = LOOKUPS.get(name)
    if lookup is None:
        raise FilterError(f"lookup {name!r} is not supported; play has "
                          f"{', '.join(repr(known) for known in LOOKUPS)}")
    flat = [item for term in terms
            for item in (term if isinstance(term, (list, tuple)) else [term])]
    found = lookup(flat, options, scope, render_file)
    if wantlist:
        return found
    if len(found) == 1:
        return found[0]
    return ",".join(str(item) for item in found)
