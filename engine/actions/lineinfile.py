"""`lineinfile`: one line present (added, or replacing the last line a `regexp` matches or
that holds a `search_string`; the first with `firstmatch`) or absent in a remote text
file, with Ansible's rules for where a new line goes (`insertafter` / `insertbefore`: EOF,
BOF or a regex, its last match, or its first with `firstmatch`).

The edit is a pure function of the file's text; textfile reads it and copy writes it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.actions.base import Action, ActionContext, ActionError, Outcome
from engine.actions.textfile import read_text, text_of, write_text
from engine.schema import as_boolean


@dataclass(frozen=True)
class DesiredLine:
    line: str | None
    state: str = "present"              # present | absent
    regexp: str | None = None
    insertafter: str | None = None      # EOF | a regex (its last match)
    insertbefore: str | None = None     # BOF | a regex (its last match)
    backrefs: bool = False
    search_string: str | None = None    # a literal part of the line, instead of regexp
    firstmatch: bool = False            # the first match of regexp / search / anchor, not the last


@dataclass(frozen=True)
class Edit:
    text: str
    msg: str                            # "" when nothing changes


def _search(pattern: str, what: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ActionError(f"{what} {pattern!r} is not a valid regular expression: {error}") \
            from None


def edit_lines(text: str, desired: DesiredLine) -> Edit:
    """Pure: the file's new text and what changed (Ansible's lineinfile, line for line)."""
    lines = text.splitlines(keepends=True)
    matches = _matching(lines, desired)
    if desired.state == "absent":
        kept = [line for index, line in enumerate(lines) if index not in matches]
        removed = len(lines) - len(kept)
        return Edit("".join(kept), f"{removed} line(s) removed" if removed else "")
    assert desired.line is not None
    new = desired.line
    if matches:
        index = matches[0] if desired.firstmatch else matches[-1]
        if desired.backrefs and desired.regexp is not None:
            found = _search(desired.regexp, "regexp").search(lines[index].rstrip("\r\n"))
            new = found.expand(desired.line) if found else new
        ending = lines[index][len(lines[index].rstrip("\r\n")):] or "\n"
        if lines[index].rstrip("\r\n") == new:
            return Edit(text, "")
        lines[index] = new + ending
        return Edit("".join(lines), "line replaced")
    if desired.backrefs:
        return Edit(text, "")  # Ansible: with backrefs an unmatched regexp changes nothing
    searched = desired.regexp is not None or desired.search_string is not None
    if searched and any(line.rstrip("\r\n") == new for line in lines):
        return Edit(text, "")
    at = _insert_at(lines, desired)
    if at > 0 and not lines[at - 1].endswith("\n"):
        lines[at - 1] += "\n"
    lines.insert(at, new + "\n")
    return Edit("".join(lines), "line added")


def _matching(lines: list[str], desired: DesiredLine) -> list[int]:
    """The indexes of the lines the task is about: regexp matches, lines that hold the
    search_string, else the exact line."""
    if desired.search_string is not None:
        return [index for index, line in enumerate(lines) if desired.search_string in line]
    if desired.regexp is not None:
        pattern = _search(desired.regexp, "regexp")
        return [index for index, line in enumerate(lines) if pattern.search(line.rstrip("\r\n"))]
    return [index for index, line in enumerate(lines) if line.rstrip("\r\n") == desired.line]


def _insert_at(lines: list[str], desired: DesiredLine) -> int:
    if desired.insertbefore == "BOF" or desired.insertafter == "BOF":
        return 0
    anchor = desired.insertafter if desired.insertafter not in (None, "EOF") else (
        desired.insertbefore)
    if anchor is None or anchor == "EOF":
        return len(lines)
    pattern = _search(anchor, "insertafter" if anchor == desired.insertafter else "insertbefore")
    found = [index for index, line in enumerate(lines) if pattern.search(line.rstrip("\r\n"))]
    if not found:
        return len(lines)  # Ansible: an anchor that matches nothing appends at the end
    chosen = found[0] if desired.firstmatch else found[-1]
    return chosen + 1 if anchor == desired.insertafter else chosen


def desired_from(args: Mapping[str, Any]) -> DesiredLine:
    state = str(args.get("state") or "present")
    if state not in ("present", "absent"):
        raise ActionError(f"state must be present or absent, not {state!r}")
    line = None if args.get("line") is None else str(args["line"])
    regexp = None if args.get("regexp") is None else str(args["regexp"])
    search_string = _text(args, "search_string")
    if regexp is not None and search_string is not None:
        raise ActionError("give regexp or search_string, not both")
    if "" in (regexp, search_string):
        raise ActionError("an empty regexp or search_string matches every line; give the "
                          "part of the line to find")
    if state == "present" and line is None:
        raise ActionError("state: present needs line, the line the file must hold")
    if state == "absent" and line is None and regexp is None and search_string is None:
        raise ActionError("state: absent needs line, regexp or search_string, the lines to "
                          "remove")
    if args.get("insertafter") is not None and args.get("insertbefore") is not None:
        raise ActionError("give insertafter or insertbefore, not both")
    backrefs = as_boolean(args.get("backrefs"), "backrefs")
    if backrefs and regexp is None:
        raise ActionError("backrefs needs regexp (a search_string has no groups)")
    return DesiredLine(line, state, regexp, _text(args, "insertafter"),
                       _text(args, "insertbefore"), backrefs, search_string,
                       as_boolean(args.get("firstmatch"), "firstmatch"))


def _text(args: Mapping[str, Any], key: str) -> str | None:
    return None if args.get(key) is None else str(args[key])


def lineinfile(args: Mapping[str, Any], context: ActionContext) -> Outcome:
    desired = desired_from(args)
    path = str(args["path"])
    current = read_text(context, path)
    text = text_of(current)
    if text is None:
        if desired.state == "absent":
            return Outcome(msg=f"{path} does not exist: nothing to remove")
        if not as_boolean(args.get("create"), "create"):
            raise ActionError(f"{path} does not exist (create: true makes it)")
    edit = edit_lines(text or "", desired)
    return write_text(args, context, current, edit.text, edit.msg or f"{path} updated")


ACTIONS: dict[str, Action] = {"lineinfile": lineinfile}
