"""What each task action accepts, checked when the playbook loads.

One entry per action: its allowed and required arguments, and whether a free-form
string (`command: echo hi`) is accepted. The actions themselves live in
`engine/actions/`; this table only lets bad input fail before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActionArgs:
    allowed: frozenset[str]
    required: tuple[str, ...] = ()
    one_of: tuple[str, ...] = ()        # at least one of these must be given
    free_form: str | None = None        # the argument a plain string stands for


def _args(allowed: str, required: str = "", one_of: str = "",
          free_form: str | None = None) -> ActionArgs:
    return ActionArgs(frozenset(allowed.split()), tuple(required.split()),
                      tuple(one_of.split()), free_form)


ACTION_ARGS: dict[str, ActionArgs] = {
    "command": _args("cmd argv chdir creates removes stdin", one_of="cmd argv", free_form="cmd"),
    "shell": _args("cmd chdir creates removes executable stdin", required="cmd",
                   free_form="cmd"),
    "copy": _args("src content dest mode owner group", required="dest", one_of="src content"),
    "template": _args("src dest mode owner group", required="src dest"),
    "file": _args("path state mode owner group src recurse", required="path"),
    "package": _args("name state update_cache", required="name"),
    "user": _args("name state uid group groups shell home system create_home append password",
                  required="name"),
    "wait_for": _args("host port path container state timeout delay",
                      one_of="port path container"),
    "docker_image": _args("name state source tarball force", required="name"),
    "fetch": _args("src dest flat", required="src dest"),
}

# Arguments naming a file on the control node, looked up next to the playbook.
LOCAL_FILE_ARGS: dict[str, tuple[str, str]] = {
    "template": ("src", "templates"),
    "copy": ("src", "files"),
}
