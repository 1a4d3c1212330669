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
# Ansible also matches a term against host names when it holds one of these
_SPECIAL_CHARS = frozenset(".?*[")
_SUBSCRIPT = re.compile(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+):([0-9]*))\]$")
_OPEN_START = re.compile(r"^(.+)\[:([0-9]*)\]$")


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
    """Names of the hosts `pattern` selects, in Ansible's order: the order of the pattern's
    union terms (`db:web` is db's hosts, then web's), each group's hosts as Ansible walks
    it (its own, then its children's, level by level); `&` and `!` only filter.

    A plain name that is neither a host nor a group is an `InputError` (Ansible
    only warns; here a typo must not silently select nothing). A glob or regex
    that matches nothing selects nothing.
    """
    selected: dict[str, None] = {}  # an ordered set
    for term in parse_pattern(pattern, where):
        if term.operator == "" and term.expression in inventory.hosts:
            selected.setdefault(term.expression)
            continue
        matched = _match_term(term.expression, inventory, pattern, where)
        if term.operator == "&":
            keep = set(matched)
            selected = {name: None for name in selected if name in keep}
        elif term.operator == "!":
            drop = set(matched)
            selected = {name: None for name in selected if name not in drop}
        else:
            selected.update(dict.fromkeys(matched))
    return tuple(selected)


def _match_term(
    expression: str, inventory: Inventory, pattern: str, where: Location | None
) -> list[str]:
    """The hosts one term names, in order, before `&`/`!` apply; may repeat a host (as
    Ansible's list does, which a subscript then counts)."""
    expression, subscript = _split_subscript(expression, where)
    if expression in inventory.hosts and subscript is None:
        return [expression]
    matches = _matcher(expression, pattern, where)
    groups = [name for name in inventory.groups if matches(name)]
    found = [host for name in groups for host in group_hosts(inventory, name)]
    if not groups or expression[0] == "~" or _SPECIAL_CHARS & set(expression):
        found.extend(name for name in inventory.hosts if matches(name))
    if not found and not groups and not (expression[0] == "~" or _GLOB_CHARS & set(expression)):
        what = "of that name" if expression == pattern.strip() else f"named {expression!r}"
        raise InputError(
            f"pattern {pattern!r}: no host or group {what}"
            + did_you_mean(expression, [*inventory.groups, *inventory.hosts]),
            where,
        )
    return _apply_subscript(found, subscript, pattern, where)


def _matcher(expression: str, pattern: str, where: Location | None) -> Callable[[str], bool]:
    """Whether a host or group name matches: `~regex` from its start, else a shell glob
    (which a plain name is too: it matches itself)."""
    if not expression.startswith("~"):
        return lambda name: fnmatch.fnmatchcase(name, expression)
    try:
        with warnings.catch_warnings():  # "possible nested set": the user's regex, as written
            warnings.simplefilter("ignore", FutureWarning)
            regex = re.compile(expression[1:])
        return lambda name: regex.match(name) is not None
    except (re.error, RecursionError, OverflowError) as error:
        problem = error if isinstance(error, re.error) else "nested or repeated too deeply"
        raise InputError(f"pattern {pattern!r}: invalid regex {expression!r}: {problem}",
                         where) from None


def _split_subscript(expression: str, where: Location | None,
                     ) -> tuple[str, tuple[int, int | None] | None]:
    """`web[0]`, `web[-1]`, `web[0:2]` (inclusive, as Ansible's), `web[1:]`; a regex never
    has one. `lab[12]` is a subscript too, as in Ansible, never a glob class."""
    match = None if expression.startswith("~") else _SUBSCRIPT.match(expression)
    if match is None:
        if (open_range := _OPEN_START.match(expression)) is not None:
            base, end = open_range.groups()
            # Ansible's docs show `web[:3]`, but ansible-core reads it as a glob that
            # matches nothing
            first = f"'{base}[0:{int(end) - 1}]' for its first {end} hosts" if end else \
                f"'{base}[0:]' for all of them"
            raise InputError(f"pattern term {expression!r}: a range needs its start; write "
                             f"{first} (a range includes its end, as in Ansible)", where)
        return expression, None
    base, index, start, end = match.groups()
    if index is not None:
        return base, (int(index), None)
    return base, (int(start), int(end) if end else -1)


def _apply_subscript(hosts: list[str], subscript: tuple[int, int | None] | None,
                     pattern: str, where: Location | None) -> list[str]:
    if not hosts or subscript is None:
        return hosts
    start, end = subscript
    if end:  # Ansible's: an end of 0 ([2:0]) selects the start alone
        return hosts[start:(len(hosts) - 1 if end == -1 else end) + 1]
    try:
        return [hosts[start]]
    except IndexError:
        raise InputError(f"pattern {pattern!r}: no host at index {start}: the term selects "
                         f"{len(hosts)} host(s), so indexes run from 0 to {len(hosts) - 1} "
                         f"(or -1 to -{len(hosts)})", where) from None


def group_hosts(inventory: Inventory, name: str) -> list[str]:
    """A group's hosts as Ansible lists them: its own, then its children's, then their
    children's, level by level (each level in the order groups were listed as children;
    Ansible's own order within the second level and below follows its group objects'
    memory addresses, which is the order they were made in all but odd cases)."""
    groups = inventory.groups
    # the model's `all` lists every host; Ansible's holds only those written under it,
    # which are in `ungrouped`, its first child, as well
    level = [name, *groups[name].children] if name == "all" else [name]
    seen_groups = set(level)
    ordered = list(level)
    while level:
        below = [child for group in level for child in groups[group].children
                 if child not in seen_groups]
        level = list(dict.fromkeys(below))
        seen_groups.update(level)
        ordered.extend(level)
    return list(dict.fromkeys(host for group in ordered if group != "all"
                              for host in groups[group].hosts))
