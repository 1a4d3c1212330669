"""Every task action play has, in one table: the module that runs it and what it accepts.

Adding an action is one module in engine/actions/ (with its `ACTIONS` table) and one line
here. The loader checks a task's arguments against this table before anything runs; the
module itself is imported only when a step of that action runs (find_action).
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.actions.base import Action


@dataclass(frozen=True)
class ActionEntry:
    module: str                         # defines ACTIONS[name]
    allowed: frozenset[str]
    required: tuple[str, ...] = ()
    one_of: tuple[str, ...] = ()        # at least one of these must be given
    free_form: str | None = None        # the argument a plain string stands for
    # (argument, folder): names a file on the control node, looked up beside the playbook
    local_file: tuple[str, str] | None = None
    remote_paths: tuple[str, ...] = ()  # arguments that are a path on the host


def _entry(module: str, allowed: str, required: str = "", one_of: str = "",
           free_form: str | None = None, local_file: tuple[str, str] | None = None,
           remote_paths: str = "") -> ActionEntry:
    return ActionEntry(f"engine.actions.{module}", frozenset(allowed.split()),
                       tuple(required.split()), tuple(one_of.split()), free_form, local_file,
                       tuple(remote_paths.split()))


CATALOG: dict[str, ActionEntry] = {
    "command": _entry("command", "cmd argv chdir creates removes stdin", one_of="cmd argv",
                      free_form="cmd"),
    "shell": _entry("command", "cmd chdir creates removes executable stdin", required="cmd",
                    free_form="cmd"),
    "copy": _entry("copy", "src content dest mode owner group", required="dest",
                   one_of="src content", local_file=("src", "files"), remote_paths="dest"),
    "template": _entry("copy", "src dest mode owner group", required="src dest",
                       local_file=("src", "templates"), remote_paths="dest"),
    "file": _entry("file", "path state mode owner group src recurse", required="path",
                   remote_paths="path src"),
    "package": _entry("package", "name state update_cache", required="name"),
    "user": _entry("user", "name state uid group groups shell home system create_home append "
                   "password", required="name"),
    "wait_for": _entry("wait_for", "host port path container state timeout delay",
                       one_of="port path container"),
    "docker_image": _entry("docker_image", "name state source tarball force", required="name"),
    "fetch": _entry("fetch", "src dest flat", required="src dest"),
    "setup": _entry("setup", "gather_subset gather_timeout filter"),
}


@functools.cache
def find_action(name: str) -> Action:
    """The function that runs action `name`: `ACTIONS[name]` of its module (looked up once
    per run: import_module costs a few microseconds on every call)."""
    module = importlib.import_module(CATALOG[name].module)
    action: Action = module.ACTIONS[name]
    return action
