"""`fetch`: copy a remote file to the control node, as `dest/<host>/<src path>` (or `dest`
itself with `flat`). One command sends the remote checksum and, only when it differs from
the local copy's, the content (base64, so binary files survive the text channel).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import posixpath
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.actions.base import Action, ActionContext, ActionError, Change, Outcome
from engine.actions.files import run_checked

# $1 remote file, $2 local sha256, $3 "1" to send differing content.
READ_SCRIPT = """sum=$(sha256sum < "$1") || exit
sum=${sum%% *}; echo "$sum"
if [ "$sum" != "$2" ] && [ "$3" = 1 ]; then base64 < "$1"; fi"""


def local_path(src: str, dest: str, host: str, flat: bool) -> Path:
    """Pure: where the copy of `src` from `host` goes on the control node."""
    if flat:
        return Path(dest, posixpath.basename(src)) if dest.endswith("/") else Path(dest)
    relative = posixpath.normpath(src).lstrip("/")
    if relative == ".." or relative.startswith("../"):
        raise ActionError(f"src {src!r} climbs out of its directory; give an absolute path")
    return Path(dest, host, relative)


def compare_fetch(local: Path, local_sha: str | None, remote_sha: str) -> Change:
    if local_sha == remote_sha:
        return Change()
    return Change((f"{'update' if local_sha else 'create'} {local}",))


def file_sha256(path: Path) -> str | None:
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_local(path: Path, content: bytes) -> None:
    """Atomically, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def fetch(args: Mapping[str, Any], context: ActionContext) -> Outcome:
    src = str(args["src"])
    local = local_path(src, str(args["dest"]), context.connection.host, bool(args.get("flat")))
    if local.is_dir():
        raise ActionError(f"{local} is a directory on the control node")
    local_sha = file_sha256(local)
    output = run_checked(context, ["/bin/sh", "-c", READ_SCRIPT, "play-fetch", src,
                                   local_sha or "", "" if context.check else "1"],
                         f"reading {src}")
    remote_sha, _, encoded = output.partition("\n")
    change = compare_fetch(local, local_sha, remote_sha.strip())
    facts = {"dest": str(local), "checksum": remote_sha.strip()}
    if not change.is_needed:
        return Outcome(msg=f"{local} is up to date", facts=facts)
    if context.check:
        return Outcome(changed=True, msg=f"would {change.what[0]}", facts=facts)
    try:
        content = base64.b64decode(encoded)
    except binascii.Error as error:
        raise ActionError(f"{src} arrived garbled: {error}") from None
    if hashlib.sha256(content).hexdigest() != remote_sha.strip():
        raise ActionError(f"{src} changed while it was being fetched; try again")
    write_local(local, content)
    return Outcome(changed=True, msg=change.what[0], facts=facts)


ACTIONS: dict[str, Action] = {"fetch": fetch}
