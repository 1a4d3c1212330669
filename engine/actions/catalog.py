"""Every task action play has, in one table: the module that runs it and what it accepts.

Adding an action is one module in engine/actions/ (with its `ACTIONS` table) and one line
here. The loader checks a task's arguments against this table before anything runs; the
module itself is imported only when a step of that action runs (find_action).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
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
    # argument -> the words it takes (the first is the default); the action reads them here
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    modes: tuple[str, ...] = ()         # arguments that are a file mode (engine/actions/modes.py)
    ports: tuple[str, ...] = ()         # arguments that are a TCP port, 1..65535


def _entry(module: str, allowed: str, required: str = "", one_of: str = "",
           free_form: str | None = None, local_file: tuple[str, str] | None = None,
           remote_paths: str = "", choices: Mapping[str, str] | None = None,
           modes: str = "", ports: str = "") -> ActionEntry:
    return ActionEntry(f"engine.actions.{module}", frozenset(allowed.split()),
                       tuple(required.split()), tuple(one_of.split()), free_form, local_file,
                       tuple(remote_paths.split()),
                       {key: tuple(words.split()) for key, words in (choices or {}).items()},
                       tuple(modes.split()), tuple(ports.split()))


CATALOG: dict[str, ActionEntry] = {
    "command": _entry("command", "cmd argv chdir creates removes stdin", one_of="cmd argv",
                      free_form="cmd"),
    "shell": _entry("command", "cmd chdir creates removes executable stdin", required="cmd",
                    free_form="cmd"),
    "copy": _entry("copy", "src content dest mode owner group", required="dest",
                   one_of="src content", local_file=("src", "files"), remote_paths="dest",
                   modes="mode"),
    "template": _entry("copy", "src dest mode owner group", required="src dest",
                       local_file=("src", "templates"), remote_paths="dest", modes="mode"),
    "file": _entry("file", "path state mode owner group src recurse", required="path",
                   remote_paths="path src", modes="mode",
                   choices={"state": "file directory absent touch link"}),
    "package": _entry("package", "name state update_cache", required="name",
                      choices={"state": "present absent latest"}),
    "user": _entry("user", "name state uid group groups shell home system create_home append "
                   "password", required="name", choices={"state": "present absent"}),
    "wait_for": _entry("wait_for", "host port path container state timeout delay",
                       one_of="port path container", ports="port",
                       choices={"state": "started present healthy stopped absent"}),
    "docker_image": _entry("docker_image", "name state source tarball force", required="name",
                           choices={"state": "present absent", "source": "pull import load"}),
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
