"""`copy` and `template`: make a remote file hold given bytes, mode, owner and group.

One command reads the destination's checksum and attributes (and, under --diff, its old
content only when it differs); `connection.put` writes atomically; chown only if needed.
A destination that is a symbolic link is followed: the link stays, its target gets the
content and keeps its own mode and owner (Ansible's `follow: yes`; see docs/actions.md).
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.actions.base import Action, ActionContext, ActionError, Change, Outcome
from engine.actions.files import (
    DIFF_LIMIT,
    STAT_FORMAT,
    Attributes,
    PathState,
    attribute_commands,
    attributes_from,
    chained,
    parse_stat,
    run_checked,
    unified_diff,
)
from engine.actions.safe_write import back_up, validate
from engine.schema import as_boolean

# $1 dest, $2 file name to use when dest is a directory, $3 desired sha256 (set only when
# a diff will be shown: then differing old content comes back, base64 for binary safety).
# Output lines: "into"|"as", writer's "uid gid", the link's resolved target in base64
# (empty: not a link), stat line of the file written (empty: absent), sha256, base64.
# A link is resolved here, not by `put`: `put` renames over the path it is given, which
# would replace the link by a file (with the link's own mode, 0777, read by `stat`).
READ_SCRIPT = f"""p=$1
if [ -d "$p" ] && [ -n "$2" ]; then p="${{p%/}}/$2"; echo into; else echo as; fi
echo "$(id -u) $(id -g)"
if [ -L "$p" ]; then
  target=$(readlink -f -- "$p") || {{
    echo "$p is a symbolic link that cannot be followed (a loop, or a missing directory" \\
      "on the way to its target)" >&2; exit 1; }}
  printf '%s' "$target" | base64 | tr -d '\\n'; echo; p=$target
else
  echo
fi
if [ ! -e "$p" ]; then echo; exit 0; fi
stat -c '{STAT_FORMAT}' -- "$p" || exit
if [ ! -f "$p" ]; then exit 0; fi
sum=$(sha256sum < "$p") || exit
sum=${{sum%% *}}; echo "$sum"
if [ -n "$3" ] && [ "$sum" != "$3" ] && [ "$(stat -c %s -- "$p")" -le {DIFF_LIMIT} ]; then
  base64 < "$p"
fi"""


@dataclass(frozen=True)
class CurrentFile:
    """What the read found at the destination."""

    path: str                    # the file written: a link's target when dest is a link
    state: PathState
    sha256: str | None
    old_content: bytes | None    # only fetched for --diff
    writer: tuple[str, str]      # uid, gid a newly written file gets
    link: str | None = None      # the link named as dest, when it is one

    @property
    def named(self) -> str:
        """The file as messages name it: `target (through link)` for a link."""
        return self.path if self.link is None else f"{self.path} (through link {self.link})"


@dataclass(frozen=True)
class DesiredFile:
    content: bytes
    attributes: Attributes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def is_content_changed(current: CurrentFile, desired: DesiredFile) -> bool:
    return current.state.kind != "file" or current.sha256 != desired.sha256


def compare_copy(current: CurrentFile, desired: DesiredFile, with_diff: bool = False) -> Change:
    """Pure: what writing `desired` to `current` would change."""
    if current.state.kind == "directory":
        raise ActionError(f"{current.named} is a directory")
    what: list[str] = []
    if not current.state.exists:
        what.append(f"create {current.named}")
    elif is_content_changed(current, desired):
        what.append(f"update content of {current.named}")
    what += desired.attributes.describe(current.state)
    diff = None
    if with_diff and is_content_changed(current, desired):
        old = current.old_content if current.state.exists else None
        diff = unified_diff(current.path, old, desired.content)
    return Change(tuple(what), diff)


def accounts_after_write(current: CurrentFile, desired: DesiredFile) -> Attributes:
    """The owner and group to chown to after `put`, which leaves the writer as owner: the
    desired ones, else the old file's (a rewrite keeps them), when the writer's differ."""
    owner, group = desired.attributes.owner, desired.attributes.group
    if current.state.exists:
        owner = owner if owner is not None else current.state.uid
        group = group if group is not None else current.state.gid
    written = PathState("file", "", *current.writer)
    return Attributes(owner=owner, group=group).differing(written)


def parse_read(output: str, dest: str, name: str) -> CurrentFile:
    lines = output.split("\n")
    path = f"{dest.rstrip('/')}/{name}" if lines[0] == "into" else dest
    uid, gid = lines[1].split()
    link = None
    if lines[2]:
        link, path = path, base64.b64decode(lines[2]).decode("utf-8", "surrogateescape")
    state = parse_stat(lines[3])
    sha256 = lines[4] if len(lines) > 4 and lines[4] else None
    encoded = "".join(lines[5:])
    old = base64.b64decode(encoded) if encoded else None
    return CurrentFile(path, state, sha256, old, (uid, gid), link)


def read_destination(context: ActionContext, dest: str, name: str,
                     desired: DesiredFile) -> CurrentFile:
    wanted = desired.sha256 if context.diff else ""
    output = run_checked(context, ["/bin/sh", "-c", READ_SCRIPT, "play-copy", dest, name,
                                   wanted], f"reading {dest}")
    return parse_read(output, dest, name)


def write(context: ActionContext, current: CurrentFile, desired: DesiredFile) -> None:
    """Content through `put` (which also sets the mode), then one chown/chmod if needed."""
    path = current.path
    if is_content_changed(current, desired):
        written = context.connection.put(desired.content, path, mode=desired.attributes.mode,
                                         become=context.become,
                                         become_user=context.become_user if context.become
                                         else None)
        if not written.is_ok:
            raise ActionError(f"writing {path} failed: {written.stderr_tail()}")
        todo = accounts_after_write(current, desired)
    else:
        todo = desired.attributes.differing(current.state)
    if not todo.is_empty:
        run_checked(context, chained(attribute_commands(path, todo)),
                    f"setting attributes of {path}")


def converge(args: Mapping[str, Any], context: ActionContext, content: bytes,
             name: str) -> Outcome:
    """Shared by copy and template once the desired content is known."""
    dest = str(args["dest"])
    if dest.endswith("/"):
        if not name:
            raise ActionError(f"dest {dest!r} is a directory; give a file name with content")
        dest, name = f"{dest}{name}", ""
    desired = DesiredFile(content, attributes_from(args))
    current = read_destination(context, dest, name, desired)
    return settle(args, context, current, desired)


def settle(args: Mapping[str, Any], context: ActionContext, current: CurrentFile,
           desired: DesiredFile, summary: str | None = None) -> Outcome:
    """Compare, stop there under --check, else validate the new content, keep a backup and
    write: the last half of every action that writes a whole file (copy, template,
    lineinfile, blockinfile, authorized_key). `summary` replaces the change's own words."""
    change = compare_copy(current, desired, context.diff)
    facts: dict[str, Any] = {"dest": current.link or current.path, "checksum": desired.sha256}
    if not change.is_needed:
        return Outcome(msg=f"{current.named} is up to date", facts=facts)
    summary = summary or "; ".join(change.what)
    if context.check:
        return Outcome(changed=True, msg=f"would {summary}", diff=change.diff, facts=facts)
    if is_content_changed(current, desired):
        if args.get("validate"):
            validate(context, current.path, desired.content, str(args["validate"]))
        if as_boolean(args.get("backup"), "backup") and current.state.kind == "file":
            facts["backup_file"] = back_up(context, current.path)
    write(context, current, desired)
    return Outcome(changed=True, msg=summary, diff=change.diff, facts=facts)


def copy(args: Mapping[str, Any], context: ActionContext) -> Outcome:
    if args.get("content") is not None:
        content = args["content"]
        data = content.encode() if isinstance(content, str) else str(content).encode()
        return converge(args, context, data, "")
    source = Path(str(args["src"]))
    if not source.is_file():
        raise ActionError(f"src {source} is not a file on the control node")
    return converge(args, context, source.read_bytes(), source.name)


def template(args: Mapping[str, Any], context: ActionContext) -> Outcome:
    source = str(args["src"])
    return converge(args, context, context.render_file(source).encode(),
                    posixpath.basename(source))


ACTIONS: dict[str, Action] = {"copy": copy, "template": template}
