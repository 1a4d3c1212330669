"""Reading a remote text file whole, for the actions that edit part of one (lineinfile,
blockinfile, authorized_key): one command returns the writer's ids, the stat line and the
content; the edit is a pure function of the text, and copy's `settle` writes the result.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

from engine.actions.base import ActionContext, ActionError, Outcome
from engine.actions.copy import CurrentFile, DesiredFile, settle
from engine.actions.files import STAT_FORMAT, attributes_from, parse_stat, run_checked

# $1 path. Output lines: writer's "uid gid", a link's resolved target in base64 (empty: not
# a link), the stat line (empty: absent), then the content in base64.
READ_SCRIPT = f"""p=$1
echo "$(id -u) $(id -g)"
if [ -L "$p" ]; then
  target=$(readlink -f -- "$p") || {{ echo "$p is a symbolic link that cannot be followed" >&2
    exit 1; }}
  printf '%s' "$target" | base64 | tr -d '\\n'; echo; p=$target
else
  echo
fi
if [ ! -e "$p" ]; then echo; exit 0; fi
stat -c '{STAT_FORMAT}' -- "$p" || exit
if [ -f "$p" ]; then base64 < "$p" || exit; fi"""


def parse_read(output: str, path: str) -> CurrentFile:
    lines = output.split("\n")
    uid, gid = lines[0].split()
    link = None
    if lines[1]:
        link, path = path, base64.b64decode(lines[1]).decode("utf-8", "surrogateescape")
    state = parse_stat(lines[2] if len(lines) > 2 else "")
    content = base64.b64decode("".join(lines[3:])) if state.kind == "file" else None
    sha256 = hashlib.sha256(content).hexdigest() if content is not None else None
    return CurrentFile(path, state, sha256, content, (uid, gid), link)


def read_text(context: ActionContext, path: str) -> CurrentFile:
    current = parse_read(run_checked(context, ["/bin/sh", "-c", READ_SCRIPT, "play-read",
                                               path], f"reading {path}"), path)
    if current.state.exists and current.state.kind != "file":
        raise ActionError(f"{current.named} is a {current.state.kind}, not a file")
    return current


def text_of(current: CurrentFile) -> str | None:
    """The file's text (None: no file); bytes that are not UTF-8 survive a round trip."""
    if current.old_content is None:
        return None
    return current.old_content.decode("utf-8", "surrogateescape")


def write_text(args: Mapping[str, Any], context: ActionContext, current: CurrentFile,
               text: str, summary: str) -> Outcome:
    """Make the file hold `text` (and the task's mode/owner/group): copy's own path."""
    desired = DesiredFile(text.encode("utf-8", "surrogateescape"), attributes_from(args))
    is_edited = current.old_content != desired.content
    return settle(args, context, current, desired, summary if is_edited else None)
