"""What Ansible users write that play spells differently or lacks: each known name with
what to write in play instead, consulted before the fuzzy did-you-mean (which would offer
`docker_image` for `docker_container`). docs/coming-from-ansible.md is the same table for
people; every message names it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from engine.errors import InputError, Location
from engine.playbook.from_docker import (
    as_yaml,
    compose_entries,
    container_entry,
    read_compose_definition,
)

DOCS = "docs/coming-from-ansible.md"
COMMAND = "use `command:` or `shell:` (with `creates:` to stay idempotent)"

# Ansible modules play has no action for -> what to write in play
MODULES: dict[str, str] = {
    "get_url": "use `command: curl -fsSL -o DEST URL` with `creates: DEST`, or `copy:` a "
               "file from the control node",
    "uri": "use `wait_for: {port: ...}` to wait for a service, or `command: curl -fsS URL`",
    "unarchive": "use `command: tar -xf FILE -C DEST` with `creates:` (copy the archive first)",
    "git": "use `command: git clone URL DEST` with `creates: DEST`",
    "cron": "`copy:` a file into /etc/cron.d/ (one line per job)",
    "group": "use `command: groupadd NAME` with `creates:`, or `user:` with `group:`/`groups:`",
    "replace": "use `lineinfile:` with `regexp:` (one line), or `template:` for the whole file",
    "raw": "use `shell:` (play needs only a POSIX shell on the host, no Python)",
    "script": "`copy:` the script to the host, then `command:` it",
    "include_vars": "use the play's `vars_files:`",
    "pause": "use `wait_for:` with a condition, or `command: sleep N`",
    "setup": "facts play collects itself; write the command you need with `register:`",
    "gather_facts": "facts play collects itself; write the command you need with `register:`",
    "hostname": "`copy:` /etc/hostname and `command: hostname NAME`",
    "sysctl": "`copy:` a file into /etc/sysctl.d/ with `notify:` a handler running "
              "`sysctl --system`",
    "mount": "`lineinfile:` into /etc/fstab and `command: mount PATH`",
    "pip": "use `command: pip install ...`, or better, ship the app as a container",
    "reboot": "play has no reboot action (the connection would drop mid-step)",
    "apt_key": "`copy:` the key into /etc/apt/keyrings/ and reference it from the source",
    "apt_repository": "`copy:` a file into /etc/apt/sources.list.d/, then `apt:` with "
                      "`update_cache: true`",
    "docker_network": "play containers use host networking (`network: host`); no network to make",
    "docker_volume": "use a host path in the container's `volumes:` (`file:` creates it)",
    "docker_login": "use `command: docker login ...` with `no_log: true`",
    "import_playbook": "`import_playbook:` is a play-level entry of the playbook, not a task",
}
# task keywords play has no counterpart for (yet) -> what to write in play
TASK_KEYWORDS: dict[str, str] = {
    "local_action": "write the action itself with `delegate_to: localhost`",
    "check_mode": "--check applies to the whole run; there is no per-task check_mode",
    "diff": "--diff applies to the whole run",
    "async": "use `timeout:` (play runs steps concurrently across hosts already)",
    "poll": "use `timeout:` (play runs steps concurrently across hosts already)",
    "throttle": "use --forks",
    "connection": "set `connection:` on the host in the inventory",
    "any_errors_fatal": "`any_errors_fatal:` is a play keyword in play",
    "debugger": "play has no task debugger; `--diff` and `register:` with `debug:` help",
}
# play keywords play has no counterpart for (yet) -> what to write in play
PLAY_KEYWORDS: dict[str, str] = {
    "strategy": "play already runs each host as far as it can (the dependency graph); remove it",
    "vars_prompt": "pass the value with -e NAME=... or a vars file",
    "connection": "set `connection:` on the hosts in the inventory",
    "collections": "write module names as they are (`copy`, `ansible.builtin.copy`)",
    "module_defaults": "write the arguments on each task",
    "order": "hosts run in inventory order; use `serial:` for rolling batches",
    "force_handlers": "handlers run when notified; there is no force_handlers",
    "check_mode": "--check applies to the whole run",
    "diff": "--diff applies to the whole run",
    "throttle": "use --forks",
}


def hint(name: str, table: Mapping[str, str]) -> str | None:
    """The hint for an Ansible name (its FQCN too), or None when play has none for it."""
    short = name.rsplit(".", 1)[-1] if name.count(".") >= 2 else name
    return table.get(short)


def refuse_ansible_play_keys(play: Mapping[str, Any], allowed: tuple[str, ...],
                             at: Callable[[str], Location]) -> None:
    """Raise the Ansible-aware InputError for the first Ansible play keyword play lacks."""
    for key in play:
        found = None if key in allowed else hint(key, PLAY_KEYWORDS)
        if found is not None:
            raise InputError(f"{key!r} is an Ansible keyword play does not have in a play: "
                             f"{found} (see {DOCS})", at(key))


def refuse_ansible_task_key(key: str, task: Mapping[str, Any], at: Location,
                            kind: str) -> None:
    """Raise the Ansible-aware InputError for an unknown task key, if there is one to give."""
    short = key.rsplit(".", 1)[-1] if key.count(".") >= 2 else key
    if short == "docker_container":
        raise _containers_error(key, task, at)
    if short in ("docker_compose_v2", "docker_compose"):
        raise _compose_error(key, task, at)
    found = hint(key, MODULES)
    if found is not None:
        raise InputError(f"play has no {key!r} action: {found} (see {DOCS})", at)
    found = hint(key, TASK_KEYWORDS)
    if found is not None:
        raise InputError(f"{key!r} is an Ansible keyword play does not have in a {kind}: "
                         f"{found} (see {DOCS})", at)


def _containers_error(key: str, task: Mapping[str, Any], at: Location) -> InputError:
    args = task.get(key)
    if not isinstance(args, Mapping):
        args = {}
    entry, dropped = container_entry(task, args)
    return InputError(f"{key!r} is not a task in play: a container is desired state, written "
                      f"in the play's `containers:` and reconciled on every run. Replace the "
                      f"task with this entry:\n{as_yaml([entry])}"
                      + _dropped(dropped) + f"(see {DOCS})", at)


def _compose_error(key: str, task: Mapping[str, Any], at: Location) -> InputError:
    args = task.get(key)
    definition = read_compose_definition(args, Path(at.file)) if isinstance(args, Mapping) \
        else None
    if definition is None:
        return InputError(f"{key!r} is not a task in play, and play reads no compose files: "
                          "write each compose service as an entry of the play's `containers:` "
                          "(environment -> env, mem_limit -> memory, working_dir -> workdir, "
                          "network_mode -> network; `depends_on` as it is); give "
                          f"`definition:` inline to have it converted here (see {DOCS})", at)
    entries, dropped = compose_entries(definition)
    return InputError(f"{key!r} is not a task in play: containers are desired state, written "
                      "in the play's `containers:`. Replace the task with these entries:\n"
                      f"{as_yaml(entries)}" + _dropped(dropped) + f"(see {DOCS})", at)


def _dropped(dropped: list[str]) -> str:
    if not dropped:
        return ""
    return f"not carried over (play has no equivalent): {', '.join(sorted(dropped))}\n"
