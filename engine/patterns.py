"""Host patterns: which inventory hosts a play's `hosts:` or `--limit` names.

Follows Ansible's pattern language: `all`/`*`, host and group names, shell
globs, `~regex`, and terms joined by `:` or `,` with `&` (intersection) and `!`
(exclusion) prefixes. Pure functions over a loaded `Inventory`.
"""

from __future__ import annotations

import fnmatch
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.errors import InputError, Location, did_you_mean

if TYPE_CHECKING:
    from engine.inventory import Inventory

_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Term:
    """One term of a pattern: `web`, `&db*`, `!~lab\\d`."""

    operator: str  # "" (union), "&" (intersection) or "!" (exclusion)
    expression: str


def parse_pattern(pattern: str, where: Location | None = None) -> tuple[Term, ...]:
    """Split a pattern into terms, ordered like Ansible: unions, then `&`, then `!`.

    Both `:` and `,` separate terms; a `:` inside `[...]` (a glob class) does not.
    A pattern of only `&`/`!` terms starts from `all`, as in Ansible.
    """
    terms: list[Term] = []
    for raw in _split_terms(pattern):
        text = raw.strip()
        operator = text[:1] if text[:1] in ("&", "!") else ""
        expression = text[len(operator):].strip()
        if not expression:
            problem = f"a term after {operator!r} is missing" if operator else "a term is empty"
            raise InputError(
                f"pattern {pattern!r}: {problem}; write terms like 'web:&prod:!web3' "
                "with a host or group name around every ':' or ','",
                where,
            )
        terms.append(Term(operator, expression))
    unions = [t for t in terms if t.operator == ""] or [Term("", "all")]
    return (
        *unions,
        *(t for t in terms if t.operator == "&"),
        *(t for t in terms if t.operator == "!"),
    )


def _split_terms(pattern: str) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    depth = 0
    for char in pattern:
        if char == "[":
            depth += 1
        elif char == "]" and depth:
            depth -= 1
        if char in ":," and not depth:
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
    pieces.append("".join(current))
    return pieces


def select_hosts(
    pattern: str, inventory: Inventory, where: Location | None = None
) -> tuple[str, ...]:
    """Names of the hosts `pattern` selects, in inventory order.

    A plain name that is neither a host nor a group is an `InputError` (Ansible
    only warns; here a typo must not silently select nothing). A glob or regex
    that matches nothing selects nothing.
    """
    selected: set[str] = set()
    for term in parse_pattern(pattern, where):
        matched = _match_term(term.expression, inventory, pattern, where)
        if term.operator == "&":
            selected &= matched
        elif term.operator == "!":
            selected -= matched
        else:
            selected |= matched
    return tuple(name for name in inventory.hosts if name in selected)


def _match_term(
    expression: str, inventory: Inventory, pattern: str, where: Location | None
) -> set[str]:
    if expression in ("all", "*"):
        return set(inventory.hosts)
    if expression in inventory.hosts:
        return {expression}
    if expression.startswith("~"):
        try:
            with warnings.catch_warnings():  # "possible nested set": the user's regex, as written
                warnings.simplefilter("ignore", FutureWarning)
                regex = re.compile(expression[1:])
        except (re.error, RecursionError, OverflowError) as error:
            problem = error if isinstance(error, re.error) else "nested or repeated too deeply"
            raise InputError(f"pattern {pattern!r}: invalid regex {expression!r}: {problem}",
                             where) from None
        return _hosts_matching(inventory, lambda name: regex.match(name) is not None)
    if _GLOB_CHARS & set(expression):
        return _hosts_matching(inventory, lambda name: fnmatch.fnmatchcase(name, expression))
    if expression in inventory.groups:
        return _group_members(inventory, {expression})
    what = "of that name" if expression == pattern.strip() else f"named {expression!r}"
    raise InputError(
        f"pattern {pattern!r}: no host or group {what}"
        + did_you_mean(expression, [*inventory.groups, *inventory.hosts]),
        where,
    )


def _hosts_matching(inventory: Inventory, matches: Callable[[str], bool]) -> set[str]:
    """Hosts whose own name matches, plus every host of every group whose name matches."""
    groups = {name for name in inventory.groups if matches(name)}
    return _group_members(inventory, groups) | {name for name in inventory.hosts if matches(name)}


def _group_members(inventory: Inventory, groups: set[str]) -> set[str]:
    return {host.name for host in inventory.hosts.values() if groups.intersection(host.groups)}
