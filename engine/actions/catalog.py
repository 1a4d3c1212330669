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
    any_names: bool = False             # set_fact: any argument name (checked by the action)


def _entry(module: str, allowed: str, required: str = "", one_of: str = "",
           free_form: str | None = None, local_file: tuple[str, str] | None = None,
           remote_paths: str = "", choices: Mapping[str, str] | None = None,
           modes: str = "", ports: str = "", any_names: bool = False) -> ActionEntry:
    return ActionEntry(f"engine.actions.{module}", frozenset(allowed.split()),
                       tuple(required.split()), tuple(one_of.split()), free_form, local_file,
                       tuple(remote_paths.split()),
                       {key: tuple(words.split()) for key, words in (choices or {}).items()},
                       tuple(modes.split()), tuple(ports.split()), any_names)


CATALOG: dict[str, ActionEntry] = {
    "command": _entry("command", "cmd argv chdir creates removes stdin", one_of="cmd argv",
                      free_form="cmd"),
    "shell": _entry("command", "cmd chdir creates removes executable stdin", required="cmd",
                    free_form="cmd"),
    "copy": _entry("copy", "src content dest mode owner group validate backup",
                   required="dest", one_of="src content", local_file=("src", "files"),
                   remote_paths="dest", modes="mode"),
    "template": _entry("copy", "src dest mode owner group validate backup",
                       required="src dest", local_file=("src", "templates"),
                       remote_paths="dest", modes="mode"),
    "file": _entry("file", "path state mode owner group src recurse", required="path",
                   remote_paths="path src", modes="mode",
                   choices={"state": "file directory absent touch link"}),
    "package": _entry("package", "name state update_cache cache_valid_time",
                      one_of="name update_cache", choices={"state": "present absent latest"}),
    # Ansible's own package modules, as `package` (whichever manager the host has)
    "apt": _entry("package", "name pkg state update_cache cache_valid_time",
                  one_of="name pkg update_cache", choices={"state": "present absent latest"}),
    "dnf": _entry("package", "name state update_cache", one_of="name update_cache",
                  choices={"state": "present absent latest"}),
    "yum": _entry("package", "name state update_cache", one_of="name update_cache",
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
    "debug": _entry("control", "msg var verbosity"),
    "fail": _entry("control", "msg"),
    "assert": _entry("control", "that fail_msg msg success_msg quiet", required="that"),
    "set_fact": _entry("control", "cacheable", any_names=True),
    "meta": _entry("control", "free_form", free_form="free_form"),
    "lineinfile": _entry("lineinfile", "path line regexp search_string state insertafter "
                         "insertbefore firstmatch create backrefs mode owner group validate "
                         "backup", required="path",
                         remote_paths="path", modes="mode",
                         choices={"state": "present absent"}),
    "blockinfile": _entry("blockinfile", "path block marker marker_begin marker_end state "
                          "insertafter insertbefore create mode owner group validate backup",
                          required="path", remote_paths="path", modes="mode",
                          choices={"state": "present absent"}),
    "stat": _entry("stat", "path follow get_checksum checksum_algorithm", required="path",
                   remote_paths="path",
                   choices={"checksum_algorithm": "sha1 sha256 md5 sha512"}),
    "authorized_key": _entry("authorized_key", "user key state exclusive manage_dir path "
                             "key_options", required="user key", remote_paths="path",
                             choices={"state": "present absent"}),
    "service": _entry("service", "name state enabled", required="name"),
    "systemd": _entry("service", "name state enabled daemon_reload", required="name"),
    "systemd_service": _entry("service", "name state enabled daemon_reload", required="name"),
}

# The collections Ansible keeps these actions in besides ansible.builtin / ansible.legacy
COLLECTION_NAMES = {"community.docker.docker_image": "docker_image",
                    "ansible.posix.authorized_key": "authorized_key"}
BUILTIN_PREFIXES = ("ansible.builtin.", "ansible.legacy.")


def action_name(written: str) -> str | None:
    """The catalog's name for an action key as a task writes it: `copy`,
    `ansible.builtin.copy` and `ansible.legacy.copy` are one action; None if no action."""
    name = COLLECTION_NAMES.get(written, written)
    for prefix in BUILTIN_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    return name if name in CATALOG else None


@functools.cache
def find_action(name: str) -> Action:
    """The function that runs action `name`: `ACTIONS[name]` of its module (looked up once
    per run: import_module costs a few microseconds on every call)."""
    module = importlib.import_module(CATALOG[name].module)
    action: Action = module.ACTIONS[name]
    return action
