"""File modes as `file`, `copy` and `template` take them: octal ("0644", "644", a YAML
octal int) or chmod's symbolic form ("u=rwx,go=rx", "g+w", "a-x,u+X"), as Ansible does.

Pure: the loader checks a mode written literally with `mode_problem` (exit 4 before the
run), the actions compare a symbolic mode with a path's current one through `apply_mode`.
"""

from __future__ import annotations

import re
from typing import Any

# chmod(1): a clause is [ugoa]* followed by one or more operations, each an operator and
# permissions (letters, or one class to copy from)
_CLAUSE = re.compile(r"[ugoa]*(?:[-+=](?:[rwxXst]*|[ugo]))+")
_OPERATION = re.compile(r"([-+=])([ugo]|[rwxXst]*)")
_SHIFT = {"u": 6, "g": 3, "o": 0}
_SPECIAL = {"u": 0o4000, "g": 0o2000, "o": 0o1000}   # setuid, setgid, sticky


def is_symbolic(mode: str) -> bool:
    return not mode.isdigit()


def mode_problem(value: Any) -> str | None:
    """Why `value` is no mode, or None."""
    if value is None or value == "" or (isinstance(value, int) and not isinstance(value, bool)
                                        and 0 <= value <= 0o7777):
        return None
    text = str(value).strip()
    if isinstance(value, str) and text.isdigit() and len(text) <= 4 and \
            not set(text) & set("89"):
        return None
    if isinstance(value, str) and text and all(_CLAUSE.fullmatch(clause)
                                               for clause in text.split(",")):
        return None
    return (f"mode must be octal such as '0644' or symbolic such as 'u=rwx,go=rx' (chmod's "
            f"[ugoa][+-=][rwxXst] clauses, comma-separated), not {value!r}")


def explicit(mode: str) -> str:
    """A symbolic mode with every clause naming whom it is for: chmod would apply a clause
    without one through the umask, Ansible applies it to all (`+x` is `a+x`)."""
    return ",".join(clause if clause[:1] in ("u", "g", "o", "a") else f"a{clause}"
                    for clause in mode.split(","))


def apply_mode(mode: str, current: int, is_directory: bool) -> int:
    """The mode a path with mode `current` gets from the symbolic `mode`."""
    for clause in mode.split(","):
        who = clause[:len(clause) - len(clause.lstrip("ugoa"))]
        classes = "ugo" if not who or "a" in who else who
        for operator, permissions in _OPERATION.findall(clause[len(who):]):
            bits = sum(_bits(permissions, one, current, is_directory) for one in classes)
            if operator == "=":
                current &= ~sum((0o7 << _SHIFT[one]) | _SPECIAL[one] for one in classes)
                current |= bits
            elif operator == "+":
                current |= bits
            else:
                current &= ~bits
    return current & 0o7777


def _bits(permissions: str, one: str, current: int, is_directory: bool) -> int:
    """The bits `permissions` stand for in class `one` (u, g or o)."""
    if permissions in _SHIFT:  # `g=u`: a copy of another class's rwx
        return ((current >> _SHIFT[permissions]) & 0o7) << _SHIFT[one]
    bits = 0
    for letter in permissions:
        if letter == "r":
            bits |= 0o4 << _SHIFT[one]
        elif letter == "w":
            bits |= 0o2 << _SHIFT[one]
        elif letter == "x" or (letter == "X" and (is_directory or current & 0o111)):
            bits |= 0o1 << _SHIFT[one]
        elif letter == "s" and one != "o":
            bits |= _SPECIAL[one]
        elif letter == "t" and one == "o":
            bits |= _SPECIAL["o"]
    return bits
