"""`file`: make a path a file, directory, symlink or nothing, with a mode, owner and group.

One command reads the path's type, attributes, link target and (with `recurse`) whether
anything below differs; one chained command applies the difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.actions.base import Action, ActionContext, ActionError, Change, Outcome
from engine.actions.catalog import CATALOG
from engine.actions.files import (
    STAT_FORMAT,
    Attributes,
    PathState,
    attribute_commands,
    attributes_from,
    chained,
    optional_text,
    parse_stat,
    run_checked,
)
from engine.schema import as_boolean

STATES = CATALOG["file"].choices["state"]

# $1 path, then an optional `find` command that prints something when a path below
# differs. Output lines: stat line (nothing: absent), link target, "drift" or nothing.
READ_SCRIPT = f"""p=$1; shift
if [ ! -e "$p" ] && [ ! -L "$p" ]; then exit 0; fi
stat -c '{STAT_FORMAT}' -- "$p" || exit
if [ -L "$p" ]; then readlink -- "$p" || exit; else echo; fi
if [ $# -gt 0 ] && [ -d "$p" ] && [ ! -L "$p" ]; then
  found=$("$@" | head -c 1) && [ -n "$found" ] && echo drift
fi
exit 0"""


@dataclass(frozen=True)
class CurrentPath:
    state: PathState
    link_target: str = ""
    has_drift_below: bool = False   # something under a directory lacks the attributes


@dataclass(frozen=True)
class DesiredPath:
    path: str
    state: str
    attributes: Attributes
    src: str | None = None
    recurse: bool = False


def compare_file(current: CurrentPath, desired: DesiredPath) -> Change:
    """Pure: what must change for the path to match; ActionError when it cannot."""
    kind, path = current.state.kind, desired.path
    if desired.state == "absent":
        return Change((f"remove {kind} {path}",) if kind else ())
    if desired.state == "link":
        return Change(_link_changes(current, desired))
    expected = "directory" if desired.state == "directory" else "file"
    if kind is None and desired.state == "file":
        raise ActionError(f"{path} does not exist (state: file only changes an existing "
                          "file; use state: touch to create it)")
    if kind is not None and kind != expected:
        raise ActionError(f"{path} is a {kind}, not a {expected}")
    if kind is None:
        return Change((f"create {expected} {path}",
                       *desired.attributes.describe(PathState(expected))))
    what = desired.attributes.describe(current.state)
    if desired.recurse and current.has_drift_below:
        what += (f"set mode/owner/group of the paths below {path}",)
    return Change(what)


def _link_changes(current: CurrentPath, desired: DesiredPath) -> tuple[str, ...]:
    kind, path = current.state.kind, desired.path
    if not desired.src:
        raise ActionError("state: link needs src, the path the link points to")
    if kind not in (None, "link"):
        raise ActionError(f"{path} is a {kind}, not a link; remove it first")
    if kind is None:
        return (f"create link {path} -> {desired.src}",)
    if current.link_target != desired.src:
        return (f"relink {path}: {current.link_target} -> {desired.src}",)
    return ()


def apply_commands(current: CurrentPath, desired: DesiredPath) -> list[list[str]]:
    """The commands that bring the path from `current` to `desired` (once planned)."""
    path, attributes = desired.path, desired.attributes
    if desired.state == "absent":
        return [["rm", "-rf", "--", path]]
    if desired.state == "link":
        return [["ln", "-sfn", "--", str(desired.src), path]]
    if not current.state.exists:
        create = ["mkdir", "-p"] if desired.state == "directory" else ["touch"]
        return [[*create, "--", path], *attribute_commands(path, attributes)]
    if desired.recurse and current.has_drift_below:
        return attribute_commands(path, attributes, recurse=True)
    return attribute_commands(path, attributes.differing(current.state))


def drift_finder(path: str, attributes: Attributes) -> list[str]:
    """A `find` that prints the paths below `path` lacking the attributes (links excluded:
    their own mode is always 0777 and chmod -R leaves them alone)."""
    tests: list[str] = []
    for flag, value in (("-perm", attributes.mode), ("-user", attributes.owner),
                        ("-group", attributes.group)):
        if value is not None:
            tests += [*(["-o"] if tests else []), "!", flag, value]
    start = path if path.startswith("/") else f"./{path}"
    return ["find", start, "!", "-type", "l", "(", *tests, ")", "-print"] if tests else []


def parse_read(output: str) -> CurrentPath:
    lines = output.split("\n")
    state = parse_stat(lines[0])
    if not state.exists:
        return CurrentPath(state)
    return CurrentPath(state, lines[1] if len(lines) > 1 else "",
                   len(lines) > 2 and lines[2] == "drift")


def desired_from(args: Mapping[str, Any]) -> DesiredPath:
    state = str(args.get("state") or "file")
    if state not in STATES:
        raise ActionError(f"state must be one of {', '.join(STATES)}, not {state!r}")
    path = str(args["path"])
    attributes = attributes_from(args)
    if state == "link" and not attributes.is_empty:
        raise ActionError("mode, owner and group do not apply to state: link")
    if state == "absent" and path.rstrip("/") == "":
        raise ActionError("refusing to remove /")
    return DesiredPath(path, state, attributes, optional_text(args, "src"),
                   as_boolean(args.get("recurse"), "recurse") and state == "directory")


def file(args: Mapping[str, Any], context: ActionContext) -> Outcome:
    desired = desired_from(args)
    finder = drift_finder(desired.path, desired.attributes) if desired.recurse else []
    output = run_checked(context, ["/bin/sh", "-c", READ_SCRIPT, "play-file", desired.path,
                                   *finder], f"reading {desired.path}")
    current = parse_read(output)
    change = compare_file(current, desired)
    if not change.is_needed:
        return Outcome(msg=f"{desired.path} is already {desired.state}",
                       facts={"path": desired.path})
    summary = "; ".join(change.what)
    if context.check:
        return Outcome(changed=True, msg=f"would {summary}", facts={"path": desired.path})
    run_checked(context, chained(apply_commands(current, desired)), summary)
    return Outcome(changed=True, msg=summary, facts={"path": desired.path})


ACTIONS: dict[str, Action] = {"file": file}
