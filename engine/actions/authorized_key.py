"""`authorized_key`: SSH public keys present or absent in a user's
~/.ssh/authorized_keys (or the file `path` names), the folder 0700 and the file 0600, both
the user's (sshd's StrictModes refuses anything looser). A key is the same key when its
type and base64 blob match, whatever its options or comment (Ansible's rule); `exclusive`
removes the others; `key_options` replace each key's own options, as in Ansible.

The edit is a pure function of the file's text; textfile reads it and copy writes it.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Mapping
from typing import Any

from engine.actions.base import Action, ActionContext, ActionError, Outcome
from engine.actions.files import STAT_FORMAT, chained, parse_stat, run_checked
from engine.actions.lineinfile import Edit
from engine.actions.textfile import read_text, text_of, write_text
from engine.schema import as_boolean

KEY_TYPES = ("ssh-rsa", "ssh-dss", "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
             "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
             "sk-ecdsa-sha2-nistp256@openssh.com")
# $1 user, $2 the keys' folder (empty: ~/.ssh). Output: the passwd line, then the stat line
# of the folder (empty: absent).
READ_SCRIPT = f"""entry=$(getent passwd -- "$1") || {{
  echo "no user $1 on this host" >&2; exit 1; }}
echo "$entry"
home=$(printf '%s' "$entry" | cut -d: -f6)
folder=${{2:-$home/.ssh}}
if [ -e "$folder" ]; then stat -c '{STAT_FORMAT}' -- "$folder"; else echo; fi"""


def key_identity(line: str) -> tuple[str, str] | None:
    """(type, blob) of an authorized_keys line, options before the type allowed; None for
    a comment, a blank line or something that is no key."""
    try:
        words = shlex.split(line.strip(), comments=False, posix=True)
    except ValueError:
        words = line.split()
    for index, word in enumerate(words[:-1]):
        if word in KEY_TYPES:
            return word, words[index + 1]
    return None


def edit_keys(text: str, keys: list[str], state: str, exclusive: bool = False) -> Edit:
    """Pure: the file's new text and what changed."""
    lines = text.splitlines(keepends=True)
    wanted = {key_identity(key): key for key in keys}
    if None in wanted:
        raise ActionError("key must be an SSH public key line such as 'ssh-ed25519 AAAA... "
                          "comment'")
    if state == "absent":
        kept = [line for line in lines if key_identity(line) not in wanted]
        removed = len(lines) - len(kept)
        return Edit("".join(kept), f"{removed} key(s) removed" if removed else "")
    result, seen, changes = [], set(), 0
    for line in lines:
        identity = key_identity(line)
        if identity in wanted:
            if identity in seen:
                changes += 1        # a second copy of a key: dropped
                continue
            seen.add(identity)
            new = wanted[identity] + "\n"
            changes += line.rstrip("\r\n") != new.rstrip("\n")
            result.append(new)
        elif exclusive and identity is not None:
            changes += 1
        else:
            result.append(line)
    missing = [key for identity, key in wanted.items() if identity not in seen]
    if missing and result and not result[-1].endswith("\n"):
        result[-1] += "\n"
    result += [f"{key}\n" for key in missing]
    changes += len(missing)
    return Edit("".join(result), f"{changes} key line(s) changed" if changes else "")


def keys_from(args: Mapping[str, Any]) -> list[str]:
    raw = args["key"]
    lines = raw if isinstance(raw, list) else str(raw).splitlines()
    keys = [str(line).strip() for line in lines if str(line).strip()
            and not str(line).strip().startswith("#")]
    if not keys:
        raise ActionError("key must hold at least one SSH public key")
    options = args.get("key_options")
    if options is None or not str(options).strip():
        return keys
    return [with_options(key, str(options).strip()) for key in keys]


def with_options(key: str, options: str) -> str:
    """`key` with `options` in place of the options it was written with (Ansible's
    key_options); a line that is no key is left for edit_keys to refuse."""
    try:
        words = shlex.split(key, posix=False)
    except ValueError:
        words = key.split()
    start = next((index for index, word in enumerate(words[:-1]) if word in KEY_TYPES), None)
    return key if start is None else " ".join([options, *words[start:]])


def authorized_key(args: Mapping[str, Any], context: ActionContext) -> Outcome:
    user, state = str(args["user"]), str(args.get("state") or "present")
    if state not in ("present", "absent"):
        raise ActionError(f"state must be present or absent, not {state!r}")
    keys = keys_from(args)
    given = None if args.get("path") is None else str(args["path"])
    lines = run_checked(context, ["/bin/sh", "-c", READ_SCRIPT, "play-authorized-key", user,
                                  "" if given is None else posixpath.dirname(given) or "."],
                        f"reading the account {user}").split("\n")
    _, _, uid, gid, _, home = lines[0].split(":")[:6]
    folder_state = parse_stat(lines[1] if len(lines) > 1 else "")
    path = given if given is not None else f"{home}/.ssh/authorized_keys"
    folder = posixpath.dirname(path)
    if not folder_state.exists and state == "absent":
        return Outcome(msg=f"{folder} does not exist: no key to remove")
    manage_dir = as_boolean(args.get("manage_dir", True), "manage_dir")
    prepared = False
    if manage_dir and (folder_state.mode != "0700" or folder_state.uid != uid):
        if context.check:
            return Outcome(changed=True, msg=f"would make {folder} 0700 and {user}'s, and "
                           f"write {path}")
        run_checked(context, chained([["mkdir", "-p", "--", folder],
                                      ["chown", "--", f"{uid}:{gid}", folder],
                                      ["chmod", "--", "0700", folder]]), f"preparing {folder}")
        prepared = True
    current = read_text(context, path)
    edit = edit_keys(text_of(current) or "", keys, state, as_boolean(args.get("exclusive"),
                                                                     "exclusive"))
    attributes = {"mode": "0600", "owner": uid, "group": gid}
    outcome = write_text(attributes, context, current, edit.text, edit.msg or f"{path} updated")
    if prepared and not outcome.changed:
        return Outcome(changed=True, msg=f"made {folder} 0700 and {user}'s", facts=outcome.facts)
    return outcome


ACTIONS: dict[str, Action] = {"authorized_key": authorized_key}
