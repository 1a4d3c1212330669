"""`stat`: what is at a remote path, for `register:` (`result.stat.exists`, `.isdir`, ...).
Changes nothing, so it runs under --check too. One command; the documented subset of
Ansible's fields (README: stat): exists, path, isreg, isdir, islnk, mode, size, uid, gid,
pw_name, gr_name, mtime, lnk_target, checksum (sha1 of a regular file, as Ansible's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.actions.base import Action, ActionContext, ActionError, Outcome
from engine.actions.files import run_checked
from engine.schema import as_boolean

# $1 path, $2 "-L" to follow a link, $3 checksum command (empty: none). Output: nothing
# (absent), or the stat line, the link's target line, the checksum line.
READ_SCRIPT = """p=$1 follow=$2 sum=$3
if [ ! -e "$p" ] && [ ! -L "$p" ]; then exit 0; fi
stat $follow -c '%a|%s|%u|%g|%U|%G|%Y|%F' -- "$p" || exit
if [ -z "$follow" ] && [ -L "$p" ]; then readlink -- "$p"; else echo; fi
if [ -n "$sum" ] && [ -f "$p" ] && [ -r "$p" ]; then "$sum" < "$p" | cut -d' ' -f1; fi
exit 0"""
CHECKSUMS = {"sha1": "sha1sum", "sha256": "sha256sum", "md5": "md5sum", "sha512": "sha512sum"}


def parse_stat(output: str, path: str) -> dict[str, Any]:
    """Pure: the `stat` value Ansible registers, from the read's output."""
    lines = output.split("\n")
    if not lines[0].strip():
        return {"exists": False, "path": path}
    mode, size, uid, gid, owner, group, mtime, kind = lines[0].split("|", 7)
    found: dict[str, Any] = {
        "exists": True, "path": path, "mode": mode.zfill(4), "size": int(size),
        "uid": int(uid), "gid": int(gid), "pw_name": owner, "gr_name": group,
        "mtime": float(mtime), "isreg": kind.startswith("regular"),
        "isdir": kind == "directory", "islnk": kind == "symbolic link"}
    target = lines[1] if len(lines) > 1 else ""
    if target:
        found["lnk_target"] = target
        found["islnk"] = True
    if len(lines) > 2 and lines[2]:
        found["checksum"] = lines[2]
    return found


def stat(args: Mapping[str, Any], context: ActionContext) -> Outcome:
    path = str(args["path"])
    algorithm = str(args.get("checksum_algorithm") or "sha1")
    if algorithm not in CHECKSUMS:
        raise ActionError(f"checksum_algorithm must be one of {', '.join(CHECKSUMS)}, "
                          f"not {algorithm!r}")
    wants_sum = as_boolean(args.get("get_checksum", True), "get_checksum")
    follow = as_boolean(args.get("follow"), "follow")
    output = run_checked(context, ["/bin/sh", "-c", READ_SCRIPT, "play-stat", path,
                                   "-L" if follow else "",
                                   CHECKSUMS[algorithm] if wants_sum else ""],
                         f"reading {path}")
    found = parse_stat(output, path)
    return Outcome(msg=f"{path} {'exists' if found['exists'] else 'does not exist'}",
                   facts={"stat": found})


ACTIONS: dict[str, Action] = {"stat": stat}
