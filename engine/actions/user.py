"""`user`: a local account present with the given attributes, or absent.

One command reads `getent passwd` and `id -Gn` (plus the shadow hash when a password is
managed); one useradd, usermod or userdel applies the difference. A password hash goes to
`chpasswd -e` on stdin, never in a command's arguments (`ps` and /proc show those).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.actions.base import Action, ActionContext, ActionError, Change, Outcome
from engine.actions.catalog import CATALOG
from engine.actions.files import chained, optional_text, run_checked
from engine.schema import as_boolean

# $1 name, $2 "1" to read the password hash. Output: the passwd line, the groups (primary
# first), the hash; nothing at all when the user does not exist.
READ_SCRIPT = """getent passwd -- "$1" || exit 0
id -Gn -- "$1" || exit
if [ "$2" = 1 ]; then getent shadow -- "$1" | cut -d: -f2; fi
exit 0"""


@dataclass(frozen=True)
class CurrentUser:
    """A user as the host has it."""

    name: str
    uid: str
    gid: str
    home: str
    shell: str
    primary_group: str
    groups: frozenset[str]        # supplementary groups only
    password: str | None = None


@dataclass(frozen=True)
class DesiredUser:
    name: str
    state: str = "present"
    uid: str | None = None
    group: str | None = None
    groups: frozenset[str] | None = None   # None: not managed
    append: bool = False
    shell: str | None = None
    home: str | None = None
    system: bool = False
    create_home: bool = True
    password: str | None = None


def parse_read(output: str) -> CurrentUser | None:
    lines = output.split("\n")
    if not lines[0].strip():
        return None
    name, _, uid, gid, _, home, shell = lines[0].split(":", 6)
    groups = lines[1].split() if len(lines) > 1 else []
    primary = groups[0] if groups else gid
    password = lines[2] if len(lines) > 2 and lines[2] else None
    return CurrentUser(name, uid, gid, home, shell, primary, frozenset(groups[1:]) - {primary},
                   password)


def differences(current: CurrentUser, desired: DesiredUser) -> dict[str, tuple[str, str]]:
    """Pure: attribute name -> (current, desired), for what differs."""
    found: dict[str, tuple[str, str]] = {}
    for name, have, want in (("uid", current.uid, desired.uid),
                             ("shell", current.shell, desired.shell),
                             ("home", current.home, desired.home)):
        if want is not None and have != want:
            found[name] = (have, want)
    if desired.group is not None and desired.group not in (current.primary_group, current.gid):
        found["group"] = (current.primary_group, desired.group)
    if desired.groups is not None:
        wanted = desired.groups | current.groups if desired.append else desired.groups
        if wanted != current.groups:
            found["groups"] = (",".join(sorted(current.groups)), ",".join(sorted(wanted)))
    if desired.password is not None and current.password != desired.password:
        found["password"] = ("(hidden)", "(hidden)")
    return found


def compare_user(current: CurrentUser | None, desired: DesiredUser) -> Change:
    """Pure: create, change or remove the account."""
    if desired.state == "absent":
        return Change((f"remove user {desired.name}",) if current else ())
    if current is None:
        return Change((f"create user {desired.name}",))
    return Change(tuple(f"{name} {have or '(none)'} -> {want or '(none)'}"
                        if name != "password" else "change password"
                        for name, (have, want) in differences(current, desired).items()))


def apply_command(current: CurrentUser | None, desired: DesiredUser) -> list[str] | None:
    """The useradd, usermod or userdel that applies the difference, the password aside
    (None: only the password differs)."""
    if desired.state == "absent":
        return ["userdel", "--", desired.name]
    if current is None:
        return ["useradd", *_create_flags(desired), "--", desired.name]
    changed = differences(current, desired)
    flags: list[str] = []
    for name, flag in (("uid", "-u"), ("group", "-g"), ("shell", "-s"), ("home", "-d")):
        if name in changed:
            flags += [flag, str(getattr(desired, name))]
    if "groups" in changed:
        flags += ["-G", changed["groups"][1]]
    return ["usermod", *flags, "--", desired.name] if flags else None


def apply_commands(current: CurrentUser | None,
                   desired: DesiredUser) -> tuple[list[str], bytes | None]:
    """The one command (argv, stdin) that applies the whole difference: a new or changed
    password reaches `chpasswd -e` as `name:hash` on stdin."""
    command = apply_command(current, desired)
    is_password_set = desired.state == "present" and desired.password is not None and (
        current is None or "password" in differences(current, desired))
    if not is_password_set:
        assert command is not None  # planned: something differs
        return command, None
    steps = [*([command] if command is not None else []), ["chpasswd", "-e"]]
    argv = steps[0] if len(steps) == 1 else chained(steps)
    return argv, f"{desired.name}:{desired.password}\n".encode()


def _create_flags(desired: DesiredUser) -> list[str]:
    flags: list[str] = []
    for flag, value in (("-u", desired.uid), ("-g", desired.group), ("-s", desired.shell),
                        ("-d", desired.home)):
        if value is not None:
            flags += [flag, value]
    if desired.groups:
        flags += ["-G", ",".join(sorted(desired.groups))]
    if desired.system:
        flags.append("-r")
    flags.append("-m" if desired.create_home else "-M")
    return flags


def desired_from(args: Mapping[str, Any]) -> DesiredUser:
    state = str(args.get("state") or "present")
    if state not in CATALOG["user"].choices["state"]:
        raise ActionError(f"state must be present or absent, not {state!r}")
    name = str(args["name"])
    if not name or name.startswith("-") or ":" in name:
        raise ActionError(f"{name!r} is not a valid user name")
    raw_groups = args.get("groups")
    groups = None if raw_groups is None else frozenset(
        str(group).strip() for group in (raw_groups if isinstance(raw_groups, list)
                                    else str(raw_groups).split(",")) if str(group).strip())
    password = optional_text(args, "password")
    if password is not None and (":" in password or "\n" in password):
        raise ActionError("password must be a crypt hash (as `getent shadow` shows it), "
                          "without ':' or a newline")
    return DesiredUser(
        name, state, optional_text(args, "uid"), optional_text(args, "group"),
        groups, as_boolean(args.get("append"), "append"), optional_text(args, "shell"),
        optional_text(args, "home"), as_boolean(args.get("system"), "system"),
        as_boolean(args.get("create_home", True), "create_home"), password)


def user(args: Mapping[str, Any], context: ActionContext) -> Outcome:
    desired = desired_from(args)
    read_hash = "1" if desired.password is not None else ""
    current = parse_read(run_checked(
        context, ["/bin/sh", "-c", READ_SCRIPT, "play-user", desired.name, read_hash],
        f"reading user {desired.name}"))
    change = compare_user(current, desired)
    if not change.is_needed:
        return Outcome(msg=f"user {desired.name} is already {desired.state}")
    summary = "; ".join(change.what)
    if context.check:
        return Outcome(changed=True, msg=f"would {summary}")
    argv, stdin = apply_commands(current, desired)
    run_checked(context, argv, summary, stdin=stdin)
    return Outcome(changed=True, msg=summary)


ACTIONS: dict[str, Action] = {"user": user}
