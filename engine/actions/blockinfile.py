"""`blockinfile`: a block of lines between two marker lines, present (replaced in place,
or inserted at `insertafter` / `insertbefore`: EOF, BOF or a regex) or absent, as Ansible's
blockinfile does. An empty block removes the markers too.

The edit is a pure function of the file's text; textfile reads it and copy writes it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.actions.base import Action, ActionContext, ActionError, Outcome
from engine.actions.lineinfile import Edit
from engine.actions.textfile import read_text, text_of, write_text
from engine.schema import as_boolean

DEFAULT_MARKER = "# {mark} ANSIBLE MANAGED BLOCK"


@dataclass(frozen=True)
class DesiredBlock:
    block: str                          # "" with state present removes it, as in Ansible
    state: str = "present"
    begin: str = "# BEGIN ANSIBLE MANAGED BLOCK"
    end: str = "# END ANSIBLE MANAGED BLOCK"
    insertafter: str | None = None      # EOF | a regex (its last match)
    insertbefore: str | None = None     # BOF | a regex (its last match)

    @property
    def lines(self) -> list[str]:
        body = [f"{line}\n" for line in self.block.splitlines()]
        return [f"{self.begin}\n", *body, f"{self.end}\n"]


def edit_block(text: str, desired: DesiredBlock) -> Edit:
    """Pure: the file's new text and what changed."""
    lines = text.splitlines(keepends=True)
    stripped = [line.rstrip("\r\n") for line in lines]
    begin = next((i for i, line in enumerate(stripped) if line == desired.begin), None)
    end = next((i for i, line in enumerate(stripped) if line == desired.end
                and (begin is None or i > begin)), None)
    is_removal = desired.state == "absent" or not desired.block
    if begin is not None and end is not None:
        if is_removal:
            return Edit("".join(lines[:begin] + lines[end + 1:]), "Block removed")
        if lines[begin:end + 1] == desired.lines:
            return Edit(text, "")
        return Edit("".join(lines[:begin] + desired.lines + lines[end + 1:]), "Block inserted")
    if is_removal:
        return Edit(text, "")
    at = _insert_at(stripped, desired)
    if at > 0 and not lines[at - 1].endswith("\n"):
        lines[at - 1] += "\n"
    return Edit("".join(lines[:at] + desired.lines + lines[at:]), "Block inserted")


def _insert_at(lines: list[str], desired: DesiredBlock) -> int:
    if desired.insertbefore == "BOF":
        return 0
    anchor = desired.insertafter if desired.insertafter not in (None, "EOF") else (
        desired.insertbefore)
    if anchor is None or anchor == "EOF":
        return len(lines)
    try:
        pattern = re.compile(anchor)
    except re.error as error:
        raise ActionError(f"{anchor!r} is not a valid regular expression: {error}") from None
    found = [index for index, line in enumerate(lines) if pattern.search(line)]
    if not found:
        return len(lines)
    return found[-1] + 1 if anchor == desired.insertafter else found[-1]


def desired_from(args: Mapping[str, Any]) -> DesiredBlock:
    state = str(args.get("state") or "present")
    if state not in ("present", "absent"):
        raise ActionError(f"state must be present or absent, not {state!r}")
    marker = str(args.get("marker") or DEFAULT_MARKER)
    if "{mark}" not in marker:
        raise ActionError(f"marker must contain {{mark}} (BEGIN / END), not {marker!r}")
    if args.get("insertafter") is not None and args.get("insertbefore") is not None:
        raise ActionError("give insertafter or insertbefore, not both")
    begin = marker.replace("{mark}", str(args.get("marker_begin") or "BEGIN"))
    end = marker.replace("{mark}", str(args.get("marker_end") or "END"))
    return DesiredBlock(str(args.get("block") or ""), state, begin, end,
                        None if args.get("insertafter") is None else str(args["insertafter"]),
                        None if args.get("insertbefore") is None else str(args["insertbefore"]))


def blockinfile(args: Mapping[str, Any], context: ActionContext) -> Outcome:
    desired = desired_from(args)
    path = str(args["path"])
    current = read_text(context, path)
    text = text_of(current)
    if text is None:
        if desired.state == "absent" or not desired.block:
            return Outcome(msg=f"{path} does not exist: no block to remove")
        if not as_boolean(args.get("create"), "create"):
            raise ActionError(f"{path} does not exist (create: true makes it)")
    edit = edit_block(text or "", desired)
    return write_text(args, context, current, edit.text, edit.msg or f"{path} updated")


ACTIONS: dict[str, Action] = {"blockinfile": blockinfile}
