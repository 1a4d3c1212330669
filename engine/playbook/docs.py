"""What each playbook key and action argument means: the text of docs/playbook.md.

The loader's tables (the *_KEYS of load.py, task_parser.py and container_parser.py,
engine/actions/catalog.py's CATALOG) own WHICH keys exist; this module owns only what they
mean, their default and an example, so the reference is generated and cannot drift:
tests/unit/test_playbook_docs.py fails when a table and this module disagree, or when
docs/playbook.md is not what `python3 -m engine.playbook.docs` writes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from engine.actions.catalog import CATALOG
from engine.playbook.container_parser import (
    CONTAINER_KEYS,
    HEALTHCHECK_KEYS,
    PLACEMENT_KEYS,
    PREFER_CHOICES,
    RESTART_POLICIES,
    SERVICE_KEYS,
)
from engine.playbook.docs_ansible import ACTIONS as ANSIBLE_ACTIONS
from engine.playbook.docs_ansible import MORE_ARGUMENTS
from engine.playbook.load import PLAY_KEYS
from engine.playbook.task_parser import TASK_KEYWORDS

REQUIRED = "required"
COMMAND = "python3 -m engine.playbook.docs > docs/playbook.md"

Entry = tuple[str, str, str]   # (default, meaning, example)
Described = TypeVar("Described")


@dataclass(frozen=True)
class Table:
    """One loader table beside the reference that describes its keys."""

    title: str
    intro: str
    keys: Sequence[str]              # the loader's: which keys exist, in its order
    described: Mapping[str, Entry]
    # (key, the loader's accepted values, their meanings), listed under the table
    choices: tuple[tuple[str, Sequence[str], Mapping[str, str]], ...] = ()


PLAY: dict[str, Entry] = {
    "name": (REQUIRED, "The play's name, unique in the playbook: events, the recap and other "
             "plays' `after:` use it.", "name: api tier"),
    "hosts": (REQUIRED, "A host pattern (`all`, groups, hosts, globs, `a:b` union, `a:&b` "
              "intersection, `a:!b` exclusion) or a list of patterns (their union); "
              "`--limit` narrows it.", "hosts: web:!web3"),
    "serial": ("all hosts in one batch", "Rolling batches: a count, a percentage (rounded "
               "down, at least 1) or a list of those, the last size repeating. Batch k+1 "
               "starts when batch k is done. May be a template of play vars, vars_files and "
               "`-e` (never host vars: batches are planned first).", 'serial: [1, "30%"]'),
    "max_fail_percentage": ("none: only a batch whose every host failed stops the rollout",
                            "Once more than this share of a batch's hosts failed, the play's "
                            "later batches are skipped.", "max_fail_percentage: 0"),
    "vars": ("{}", "Play variables: above inventory variables, below `vars_files`, "
             "registered results and `-e`.", 'vars: {api_version: "2"}'),
    "vars_files": ("[]", "YAML files of variables, relative to the playbook, read in order "
                   "(a later file wins); above `vars`.", "vars_files: [../vars/common.yml]"),
    "tasks": ("[]", "Imperative steps, run in their listed order on each host.",
              "tasks: [{name: config dir, file: {path: /srv/api, state: directory}}]"),
    "handlers": ("[]", "Tasks that run on a host only if a changed task notified them there, "
                 "after the play's last task on that host, in their listed order.",
                 "handlers: [{name: reload, shell: service nginx reload}]"),
    "containers": ("[]", "Declared containers, reconciled on every host of the play (or on "
                   "`replicas` of them); see Containers below.",
                   "containers: [{name: api, image: api:2}]"),
    "services": ("[]", "Service instances registered for a container of the play once it is "
                 "healthy; see Services below.",
                 "services: [{name: api, container: api, port: 8080}]"),
    "after": ("the whole play above (every host)", "Names of plays this one waits for; `[]` "
              "starts at once.", "after: []"),
    "registry": ("the `registry` inventory variable of the play's hosts, else the file "
                 "backend under /var/lib/play/registry on the control node",
                 "The service registry and the deploy lock: see Registry settings below.",
                 "registry: {backend: etcd, endpoints: ['http://10.0.0.5:2379']}"),
    "any_errors_fatal": ("false", "The first failure stops the play's remaining steps on "
                         "every host. A literal (it shapes the plan).",
                         "any_errors_fatal: true"),
    "become": ("the host's `become` (false)", "Run the play's tasks through `sudo -n` (with "
               "the host's `become_password` when it has one); a task's own `become` wins.",
               "become: true"),
    "tags": ("[]", "Tags added to every step of the play, for `--tags` / `--skip-tags`.",
             "tags: [api]"),
    "roles": ("[]", "Roles in the standard layout (`tasks/`, `handlers/`, `defaults/`, "
              "`vars/`, `templates/`, `files/`, `meta/` dependencies), found in `roles/` "
              "beside the playbook, then `PLAY_ROLES_PATH`; their tasks run after "
              "`pre_tasks`, before `tasks`, named `role : task` (docs/structure.md).",
              "roles: [common, {role: nginx, vars: {port: 8080}}]"),
    "pre_tasks": ("[]", "Tasks that run before the roles, as in Ansible.",
                  "pre_tasks: [{name: apt cache, package: {name: curl, update_cache: true}}]"),
    "post_tasks": ("[]", "Tasks that run after `tasks`, as in Ansible.",
                   "post_tasks: [{name: smoke test, command: curl -fsS localhost}]"),
    "gather_facts": ("false (unlike Ansible)", "Collect `ansible_hostname`, "
                     "`ansible_distribution*`, `ansible_os_family`, `ansible_processor_vcpus`, "
                     "`ansible_memtotal_mb`, `ansible_default_ipv4` in a first task, one round "
                     "trip per host.", "gather_facts: true"),
    "become_user": ("root", "The user `become` switches to (`sudo -H -u`) for the play's "
                    "tasks, unless a task sets its own; a host's `ansible_become_user` (a "
                    "variable: inventory, vars or -e) wins over both, as in Ansible.",
                    "become_user: postgres"),
    "remote_user": ("the inventory's `user`, else ~/.ssh/config, else yours", "The login of "
                    "hosts whose inventory names no user (the inventory wins, as in Ansible); "
                    "one login per host per run.", "remote_user: admin"),
    "environment": ("{}", "Environment variables for every command of the play's tasks "
                    "(a task's own names win); sent through the command's stdin, never its "
                    "arguments.", "environment: {http_proxy: 'http://proxy:3128'}"),
}

TASK: dict[str, Entry] = {
    "name": (REQUIRED, "Unique among the play's tasks (a container may share it); may be a "
             "template, shown rendered.", "name: api config"),
    "when": ("always", "A condition (a Jinja2 expression without `{{ }}`, a boolean, or a "
             "list that must all hold); false skips the task, not what follows it.",
             "when: inventory_hostname in groups['web']"),
    "loop": ("none", "A list, or a template that renders to one: the action runs once per "
             "`item`; a registered result holds `results`, one per item. On `include_tasks`: the "
             "whole file once per item (docs/structure.md).",
             "loop: [api, worker]"),
    "register": ("none", "Store the result for this host's later steps: `changed`, "
                 "`failed`, `skipped`, `msg`, the action's facts and, for commands, `rc`, "
                 "`stdout`, `stderr`, `stdout_lines`, `stderr_lines`.", "register: version"),
    "notify": ("[]", "Handlers, or containers of the same play, to run when this task "
               "changed something (and did not fail); a notified container is restarted "
               "and waits for the task.", "notify: api"),
    "after": ("[]", "Steps of the same play that must succeed first; write `container:api` "
              "or `service:api` when two kinds share the name.", "after: [container:db]"),
    "retries": ("3 with `until`, else 0", "How many more attempts `until` gets.",
                "retries: 10"),
    "until": ("none", "A condition checked after each attempt (the registered name holds "
              "that attempt's result); the task fails when it never holds.",
              "until: health.rc == 0"),
    "delay": ("5 s", "Seconds between `until` attempts (a number or `500ms`, `2s`, `1m`).",
              "delay: 2s"),
    "timeout": ("the host's `command_timeout` (none)", "Seconds each command of the task may "
                "take.", "timeout: 30"),
    "ignore_errors": ("false", "A failure does not fail the run; it is counted in the "
                      "recap's `ignored` column.", "ignore_errors: true"),
    "changed_when": ("the action's own answer", "A condition that decides `changed` (sees "
                     "the registered result).", "changed_when: \"'created' in out.stdout\""),
    "failed_when": ("the action's own answer", "A condition that decides `failed` (sees the "
                    "registered result).", "failed_when: out.rc not in [0, 1]"),
    "become": ("the play's, else the host's", "Run this task through sudo.", "become: true"),
    "run_once": ("false", "Run on the first host of each `serial` batch only; every host of "
                 "the batch waits for it. A literal (it shapes the plan).", "run_once: true"),
    "tags": ("[]", "Tags for `--tags` / `--skip-tags` (`always` runs unless skipped by name).",
             "tags: [config]"),
    "no_log": ("false", "The task's output and diff are replaced by `(output hidden by "
               "no_log)` in every output.", "no_log: true"),
    "delegate_to": ("the host itself", "Run the task over another host's connection (an "
                    "inventory host, or `localhost`: the control node), with this host's "
                    "variables.", "delegate_to: db1"),
    "vars": ("{}", "Variables of this task only: above the play's and its vars files, "
             "below registered results and `-e`.", "vars: {port: 8080}"),
    "with_items": ("none", "Ansible's: `loop` over the list flattened one level.",
                   "with_items: [curl, git]"),
    "with_list": ("none", "Ansible's: `loop` over the list as it is.", "with_list: [[a, b]]"),
    "with_dict": ("none", "Ansible's: loop over a mapping, one `item` with `key` and `value` "
                  "per entry.", "with_dict: {ann: admin, bob: dev}"),
    "loop_control": ("item, no index, the item shown", "`loop_var` (the item's name), "
                     "`index_var` (its position), `label` (a template: what the output shows "
                     "per item).", "loop_control: {loop_var: user, label: '{{ user.name }}'}"),
    "become_user": ("its block's or role's, else the play's, else root", "The user `become` "
                    "switches to (`sudo -H -u`); the variable `ansible_become_user` wins over "
                    "it, as in Ansible.", "become_user: postgres"),
    "remote_user": ("the play's", "The login, for hosts whose inventory names no user; one "
                    "login per host per run.", "remote_user: admin"),
    "environment": ("the play's", "Environment variables for the task's commands, over its "
                    "blocks', its role's and the play's (per name, as Ansible merges them); a "
                    "mapping, a template or a list of them; through stdin, never a command "
                    "line.",
                    "environment: {LANG: C.UTF-8}"),
    "args": ("{}", "The action's arguments, under those written on the action itself "
             "(`command: make` with `args: {chdir: /src}`).", "args: {chdir: /srv/app}"),
}

CONTAINER: dict[str, Entry] = {
    "name": (REQUIRED, "The container's name on the host, its identity there "
             "(`[a-zA-Z0-9][a-zA-Z0-9_.-]+`); once per host.", "name: api"),
    "image": (REQUIRED, "The image reference.",
              'image: "registry.lab:5000/api:{{ api_version }}"'),
    "pull": ("missing", "`missing` pulls only when the image is not on the host; `always` "
             "every run (a new id recreates); `never` fails when it is missing.",
             "pull: always"),
    "command": ("the image's", "The command, a list or a string split like a shell.",
                'command: ["httpd", "-f", "-p", "8080"]'),
    "entrypoint": ("the image's", "The entrypoint, a list or a string; its first word is "
                   "`--entrypoint`, the rest goes before the command.",
                   "entrypoint: [/bin/sh, -c]"),
    "env": ("{}", "Environment variables. Never in a host's argv: sent on stdin into a 0600 "
            "env file removed once docker read it; a changed value recreates.",
            "env: {APP_ENV: prod}"),
    "env_file": ("[]", "Files on the control node (relative to the playbook) of `NAME=VALUE` "
                 "lines (`#` comments); `env` wins over them.", "env_file: [api.env]"),
    "ports": ("[]", "Published ports, passed to `docker --publish` as given (Docker ignores "
              "them with host networking).", 'ports: ["8080:8080"]'),
    "volumes": ("[]", "`source:path[:options]` binds or named volumes, as `docker -v` reads "
                "them.", 'volumes: ["/srv/api:/etc/api:ro"]'),
    "network": ("Docker's default", "The container's network; the lab's engines have no "
                "bridge, so use `host` there.", "network: host"),
    "restart": ("Docker's default (no)", "The restart policy: one of the values below.",
                "restart: unless-stopped"),
    "labels": ("{}", "Labels; play adds its own `play.*` labels (managed, name, spec-hash, "
               "play).", "labels: {team: core}"),
    "healthcheck": ("none: the container counts as up once it runs", "Docker's health "
                    "check; see Health checks below. A recreate waits for it.",
                    'healthcheck: {cmd: "wget -qO- http://127.0.0.1:8080/", interval: 1s}'),
    "user": ("the image's", "The user the container runs as.", "user: \"1000:1000\""),
    "workdir": ("the image's", "The working directory.", "workdir: /app"),
    "cpus": ("no limit", "`docker --cpus`; with `replicas`, also what a host needs "
             "unreserved to be given one.", "cpus: 0.5"),
    "memory": ("no limit", "`docker --memory`; with `replicas`, also what a host needs free "
               "to be given one.", "memory: 256m"),
    "stop_timeout": ("Docker's (10 s)", "Seconds Docker waits after SIGTERM before SIGKILL.",
                     "stop_timeout: 1"),
    "reload_signal": ("none: a notified container is restarted",
                      "A signal name (USR2, HUP): a notified running container gets it "
                      "(`docker kill --signal`) instead of a restart, and stays registered; "
                      "not in the spec hash.", "reload_signal: USR2"),
    "depends_on": ("[]", "Containers (of this play or another) that must be healthy first, "
                   "on every host that runs them; for a replicated one, one healthy replica.",
                   "depends_on: [store]"),
    "after": ("[]", "Steps of the same play that must succeed first (tasks included: "
              "without it a container does not wait for its play's tasks).",
              "after: [api config]"),
    "state": ("started", "`started`, `stopped` or `absent` (removed, with its service "
              "records).", "state: absent"),
    "keep_images": ("3", "Images of the container's repository kept on the host after an "
                    "update; older ones are removed.", "keep_images: 2"),
    "when": ("always", "A condition; false skips the container step.",
             "when: enable_api | default(true)"),
    "tags": ("[]", "Tags for `--tags` / `--skip-tags`; its services follow them.",
             "tags: [api]"),
    "replicas": ("none: one on every host of the play", "Run N copies on the play's hosts, "
                 "placed once per run; a running healthy replica stays where it is. A whole "
                 "number of at least 1, or a template of play vars, vars_files and `-e`.",
                 'replicas: "{{ api_replicas }}"'),
    "placement": ("inventory order, spread, no constraints", "Where replicas may go (only "
                  "with `replicas`); see Placement below.",
                  "placement: {prefer: least-loaded}"),
}

PLACEMENT: dict[str, Entry] = {
    "spread": ("true", "One replica per host before a second on any. A literal.",
               "spread: true"),
    "prefer": ("inventory-order", "How candidate hosts are ordered: one of the values below.",
               "prefer: least-loaded"),
    "constraints": ("{}", "Inventory variables a host must have (compared as text) to be a "
                    "candidate; other hosts get no node for the container or its services.",
                    "constraints: {disk: ssd}"),
    "max_per_host": ("1", "The only value accepted: replicas use host networking and would "
                     "collide on their ports.", "max_per_host: 1"),
}

SERVICE: dict[str, Entry] = {
    "name": (REQUIRED, "The service's name in the registry (at most 200 characters, no `/` "
             "or control characters, not starting with `.`); its instance is "
             "`<service>@<host>`.", "name: api"),
    "container": (REQUIRED, "A container of the same play: registered once it is healthy, "
                  "deregistered before it stops.", "container: api"),
    "port": (REQUIRED, "The port consumers connect to, 1-65535.", "port: 8080"),
    "tags": ("[]", "Registry tags of the instance (not step tags: a service follows its "
             "container's).", 'tags: [http, "v{{ api_version }}"]'),
    "meta": ("{}", "A flat map of strings stored in the record.",
             'meta: {version: "{{ api_version }}"}'),
    "drain": ("0", "Seconds between deregistering and stopping the old container on a "
              "recreate (the longest of the container's services).", "drain: 2s"),
    "after": ("[]", "Steps of the same play that must succeed first.", "after: [warm cache]"),
    "when": ("always", "A condition; false skips the service step.",
             "when: register_api | default(true)"),
}

HEALTHCHECK: dict[str, Entry] = {
    "cmd": (REQUIRED, "The check, run in the container: a shell string or a list.",
            'cmd: "wget -qO- http://127.0.0.1:8080/"'),
    "interval": ("30 s", "Time between checks.", "interval: 1s"),
    "timeout": ("30 s", "How long one check may take.", "timeout: 2s"),
    "retries": ("3", "Failed checks in a row that make the container unhealthy.",
                "retries: 30"),
    "start_period": ("0", "Time after start during which failures do not count.",
                     "start_period: 5s"),
}

# The registry's settings live in engine/registry/config.py (FILE_KEYS, ETCD_KEYS), a layer
# above this one: the test checks these against them. key -> (backends, entry).
REGISTRY: dict[str, tuple[str, Entry]] = {
    "backend": ("file etcd", ("file", "`file` (JSON files, on the control node or an "
                              "inventory host) or `etcd` (3.4 or later, its v3 gateway).",
                              "backend: etcd")),
    "host": ("file", ("the control node", "An inventory host that holds the records, "
                      "reached over SSH.", "host: lab1")),
    "root": ("file", ("/var/lib/play/registry", "The records' directory (absolute): "
                      "`<root>/<service>/<service>@<host>.json`, 0600 in 0700 directories.",
                      "root: /srv/registry")),
    "become": ("file", ("false", "Run the registry commands with sudo (true or false).",
                        "become: true")),
    "endpoints": ("etcd", ("http://127.0.0.1:2379", "etcd's client URLs.",
                           "endpoints: ['https://10.0.0.5:2379']")),
    "prefix": ("etcd", ("/play", "Key prefix: records are "
                        "`<prefix>/<service>/<service>@<host>`.", "prefix: /team-a")),
    "ttl": ("etcd", ("0 (no lease)", "Seconds of a lease the records are put on, kept "
                     "alive while a run lasts.", "ttl: 60")),
    "grace": ("file etcd", ("2", "How long the records of a host that does not answer stay: "
                            "converges in a row, or a duration from the first miss.",
                            "grace: 10m")),
    "owner": ("file etcd", ("the project's folder name (the first inventory's folder, or "
                            "the one above `inventory/`)", "Whose records these are: a run "
                            "changes only its owner's; others are listed as `foreign`.",
                            "owner: web-team")),
    "user": ("etcd", ("none (no authentication)", "etcd user; needs exactly one of "
                      "`password_file` and `password_env`.", "user: play")),
    "password_file": ("etcd", ("", "An absolute path to a file whose first line is the "
                               "password. A `password:` key is refused.",
                               "password_file: ~/.config/play/etcd-password")),
    "password_env": ("etcd", ("", "The name of an environment variable holding the "
                              "password (set before the run).",
                              "password_env: PLAY_ETCD_PASSWORD")),
    "ca_file": ("etcd", ("the system's CAs", "The CA of etcd's certificate (https "
                         "endpoints only).", "ca_file: /etc/ssl/etcd-ca.pem")),
    "cert_file": ("etcd", ("none", "A client certificate, with `key_file` (https endpoints "
                           "only).", "cert_file: /etc/ssl/play.pem")),
    "key_file": ("etcd", ("none", "The client certificate's key, with `cert_file`.",
                          "key_file: /etc/ssl/play-key.pem")),
}

RESTART: dict[str, str] = {
    "no": "never restarted by Docker",
    "always": "restarted whenever it stops, and when the engine starts",
    "unless-stopped": "like `always`, except after a `docker stop`",
    "on-failure": "restarted when it exits non-zero; `on-failure:N` at most N times",
}

PREFER: dict[str, str] = {
    "least-loaded": "fewest managed containers (running, and those this run starts there), "
                    "then load per CPU, then free memory in 256 MiB steps, then name",
    "inventory-order": "the order of the inventory",
}

# action -> (what it does, {argument: (default, meaning, example)})
ACTIONS: dict[str, tuple[str, dict[str, Entry]]] = {
    "setup": ("Gather the host's facts (what `gather_facts: true` runs first); one remote "
              "command.", {
        "gather_subset": ("all", "Accepted for Ansible's playbooks and not read: play "
                          "gathers its one documented set.", "gather_subset: [min]"),
        "gather_timeout": ("none", "Accepted and not read: the task's `timeout` bounds the "
                           "command.", "gather_timeout: 10"),
        "filter": ("none", "Accepted and not read: every documented fact is set.",
                   "filter: ansible_distribution*"),
    }),
    "command": ("Run a command without a shell; `changed` whenever it runs, skipped under "
                "`--check`.", {
        "cmd": ("", "The command line, split like a shell (no shell runs it).",
                "cmd: systemctl restart app"),
        "argv": ("", "The command as a list, each item one argument as given.",
                 "argv: [touch, /tmp/a file]"),
        "chdir": ("the login's home", "Directory to run in.", "chdir: /srv/app"),
        "creates": ("none", "Skip when this path (a glob) exists.",
                    "creates: /srv/app/.installed"),
        "removes": ("none", "Run only when this path (a glob) exists.",
                    "removes: /tmp/upgrade.flag"),
        "stdin": ("none", "Text for the command's stdin (a newline added at its end).",
                  "stdin: \"{{ token }}\""),
    }),
    "shell": ("Run a script with `/bin/sh -c`; `changed` whenever it runs, skipped under "
              "`--check`. Quote values with `| quote`.", {
        "cmd": ("", "The script.", 'cmd: "grep -- {{ pattern | quote }} /etc/app.conf"'),
        "chdir": ("the login's home", "Directory to run in.", "chdir: /srv/app"),
        "creates": ("none", "Skip when this path (a glob) exists.", "creates: /etc/app.conf"),
        "removes": ("none", "Run only when this path (a glob) exists.",
                    "removes: /tmp/upgrade.flag"),
        "executable": ("/bin/sh", "The shell that runs `cmd` (with `-c`).",
                       "executable: /bin/bash"),
        "stdin": ("none", "Text for the script's stdin (a newline added at its end).",
                  "stdin: \"{{ token }}\""),
    }),
    "copy": ("Make a remote file hold a local file's bytes or given content.", {
        "src": ("", "A file on the control node, looked up in `<playbook dir>/files/`, "
                "`<playbook dir>/../files/`, then the playbook's folder.",
                "src: app.conf"),
        "content": ("", "The file's content, given inline.", 'content: "hello\\n"'),
        "dest": ("", "The remote path; ending in `/` (or an existing directory) it gets "
                 "`src`'s file name. A symbolic link is followed and stays.",
                 "dest: /srv/app/app.conf"),
        "mode": ("the replaced file's, else the login's umask", "Octal, as a string.",
                 'mode: "0644"'),
        "owner": ("the replaced file's, else the login", "User name or uid.",
                  "owner: deploy"),
        "group": ("the replaced file's, else the login's group", "Group name or gid.",
                  "group: deploy"),
    }),
    "template": ("Render a Jinja2 file on the control node and write it to the host.", {
        "src": ("", "Looked up in `<playbook dir>/templates/`, `<playbook dir>/../templates/`, "
                "then the playbook's folder.", "src: api.conf.j2"),
        "dest": ("", "The remote path (a symbolic link is followed and stays).",
                 "dest: /srv/api/api.conf"),
        "mode": ("the replaced file's, else the login's umask", "Octal, as a string.",
                 'mode: "0640"'),
        "owner": ("the replaced file's, else the login", "User name or uid.",
                  "owner: root"),
        "group": ("the replaced file's, else the login's group", "Group name or gid.",
                  "group: deploy"),
    }),
    "file": ("Make a path a file, directory or symbolic link, or nothing.", {
        "path": ("", "The remote path.", "path: /srv/api"),
        "state": ("file", "`file` (changes an existing file only), `directory` (made with "
                  "its parents), `touch` (creates a missing file; leaves the time alone), "
                  "`link` (refuses to replace a non-link), `absent` (removed, recursively).",
                  "state: directory"),
        "mode": ("unchanged (new: the login's umask)", "Octal, as a string.",
                 'mode: "0755"'),
        "owner": ("unchanged", "User name or uid.", "owner: deploy"),
        "group": ("unchanged", "Group name or gid.", "group: deploy"),
        "src": ("", "For `state: link`: what the link points to.",
                "src: /etc/nginx/sites-available/app"),
        "recurse": ("false", "For `state: directory`: give everything below the mode, "
                    "owner and group too.", "recurse: true"),
    }),
    "package": ("Packages present, absent or latest, with apt, dnf or apk (whichever the "
                "host has).", {
        "name": ("", "A package, a list, or a comma-separated string.",
                 "name: [docker.io, curl]"),
        "state": ("present", "`present`, `absent` or `latest`.", "state: latest"),
        "update_cache": ("false", "Refresh the package lists first (not under `--check`).",
                         "update_cache: true"),
    }),
    "user": ("A local account present with these attributes, or absent.", {
        "name": ("", "The user name.", "name: deploy"),
        "state": ("present", "`present` or `absent`.", "state: absent"),
        "uid": ("chosen by useradd", "The user id.", "uid: 1500"),
        "group": ("useradd's", "The primary group.", "group: deploy"),
        "groups": ("unmanaged", "Supplementary groups, a list or comma-separated; the exact "
                   "set unless `append`.", "groups: [docker]"),
        "shell": ("useradd's", "The login shell.", "shell: /bin/sh"),
        "home": ("useradd's", "The home directory.", "home: /home/deploy"),
        "system": ("false", "Create a system account (`useradd -r`).", "system: true"),
        "create_home": ("true", "Create the home directory when the account is created.",
                        "create_home: false"),
        "append": ("false", "Add `groups` to the user's groups instead of setting them.",
                   "append: true"),
        "password": ("unmanaged", "A crypt hash as `getent shadow` shows it; sent to "
                     "`chpasswd -e` on stdin, never in arguments.",
                     "password: \"{{ deploy_hash }}\""),
    }),
    "wait_for": ("Wait, on the host, until a port listens, a path exists or a container is "
                 "healthy (or the reverse); changes nothing, skipped under `--check`. "
                 "Takes exactly one of `port`, `path` and `container`.", {
        "host": ("127.0.0.1", "For `port`: the local address that must accept.",
                 "host: 10.0.0.5"),
        "port": ("", "A TCP port that must listen (read from /proc/net/tcp*).", "port: 8080"),
        "path": ("", "A path that must exist.", "path: /run/app.sock"),
        "container": ("", "A container that must be healthy (or running, without a health "
                      "check).", "container: api"),
        "state": ("started", "`started`, `present` or `healthy` wait for the port, path or "
                  "container to be up; `stopped` or `absent` for it to be gone.",
                  "state: absent"),
        "timeout": ("60", "Seconds before the task fails with what it last saw.",
                    "timeout: 120"),
        "delay": ("0", "Seconds to wait before the first probe.", "delay: 1"),
    }),
    "docker_image": ("An image present (pulled, imported or loaded) or absent on the host.", {
        "name": ("", "The image reference.", "name: registry.lab:5000/busybox:latest"),
        "state": ("present", "`present` or `absent`.", "state: absent"),
        "source": ("pull", "`pull`, `import` (a root filesystem tarball) or `load` (a "
                   "`docker save` tarball).", "source: load"),
        "tarball": ("", "For `import` and `load`: a file on the control node, streamed to "
                    "the host.", "tarball: images/api.tar"),
        "force": ("false", "Fetch again even when the image is there.", "force: true"),
    }),
    "fetch": ("Copy a remote file to the control node.", {
        "src": ("", "The remote file.", "src: /var/log/app.log"),
        "dest": ("", "A folder on the control node: the copy goes to `dest/<host>/<src>`.",
                 "dest: fetched/"),
        "flat": ("false", "Write `dest` itself (or `dest/<file name>` when it ends in `/`).",
                 "flat: true"),
    }),
}

ACTIONS.update(ANSIBLE_ACTIONS)
for _action, _arguments in MORE_ARGUMENTS.items():
    ACTIONS[_action][1].update(_arguments)

# The rules that surprise people coming from Ansible or docker compose: (rule, example).
SURPRISES: tuple[tuple[str, str], ...] = (
    ("A play's containers on a host start after its tasks there (listed order, as in "
     "Ansible), unless a container says `after:` itself: `after: []` starts it at once. A "
     "task that says `after: [a container]`, and the tasks listed after it, run after the "
     "containers instead.",
     "tasks:\n  - name: api config\n    template: {src: api.conf.j2, dest: /srv/api/api.conf}\n"
     "    notify: api          # and api restarts when the file changed\n"
     "  - name: smoke test\n    command: wget -qO- http://127.0.0.1:8080/\n"
     "    after: [api]         # runs once api is up\n"
     "containers:\n  - name: api      # starts after 'api config'\n    image: api:2\n"
     "  - name: metrics\n    image: exporter:1\n    after: []         # starts at once"),
    ("Undefined variables are errors, before anything runs: `play` and `play graph` render "
     "every template of every step for every host and refuse a name no scope defines "
     "(exit 4, with the line and a did-you-mean). Guard optional ones.",
     "when: feature_x | default(false)\nshell: \"echo {{ motd | default('hello') }}\""),
    ("A container is recreated only when its spec hash (image reference, command, env, "
     "env_file contents, ports, volumes, network, restart, labels, health check, user, "
     "workdir, limits, stop timeout) or its resolved image id differs. `state`, `pull` and "
     "`keep_images` never recreate. A stopped one is started; a rerun changes nothing.",
     "env: {LOG_LEVEL: debug}   # changed: recreated (the old one stays until the new one "
     "is healthy)"),
    ("`notify` on a task restarts a container of the same play (or runs a handler) when the "
     "task changed something on that host.",
     "- name: nginx config\n  template: {src: nginx.conf.j2, dest: /srv/nginx/nginx.conf}\n"
     "  notify: nginx          # the container named nginx"),
    ("`serial` makes batches: batch k+1 starts when batch k is done on every host. A failed "
     "step skips what needs it on its host, other hosts go on; a batch whose every host "
     "failed (or more than `max_fail_percentage` of it) stops the play's later batches, and "
     "a host that failed in one play is out of its later plays.",
     "serial: [1, \"50%\"]       # one host first, then half of them at a time\n"
     "max_fail_percentage: 0"),
    ("Plays run one after another (every host of the play above finishes first) unless "
     "they say `after:`; `after: []` starts at once.",
     "- name: api tier\n  hosts: web\n  after: []          # with the play above"),
    ("Step names are unique per kind within a play, so a container and its service may both "
     "be `api`; `after:` then says which: `container:api`.",
     "after: [container:api]"),
    ("`serial`, `replicas`, `placement`, `run_once` and `any_errors_fatal` shape the plan "
     "before any variable exists: they cannot be templates.", "replicas: 2"),
    ("A template that is a single `{{ expression }}` keeps its value's type; text that "
     "merely looks like a number stays text (unlike Ansible).",
     "ports: \"{{ api_ports }}\"       # stays a list\n"
     "image: \"api:{{ release }}\"    # release: \"2.0\" stays the text 2.0"),
    ("Values Docker, POSIX or the registry would refuse (names, env, volumes, paths, NUL) "
     "are refused before the run with exit 4 at their line, not halfway through a rollout.",
     "containers:\n  - name: my api     # refused: a container name has no spaces\n"
     "    image: api:2"),
)


def tables() -> tuple[Table, ...]:
    """Each loader table with the reference that describes it, in the page's order."""
    return (
        Table("Play keys", "A playbook is a YAML list of plays.", PLAY_KEYS, PLAY),
        Table("Task keywords", "Besides its one action (below), a task or handler takes:",
              TASK_KEYWORDS, TASK),
        Table("Container keys", "Each entry of a play's `containers:`.", CONTAINER_KEYS,
              CONTAINER, (("restart", RESTART_POLICIES, RESTART),)),
        Table("Health checks", "A container's `healthcheck:`. A new container has "
              "`start_period + (interval + timeout) x retries + 5 s` to become healthy, or "
              "it is removed and the old one put back.", HEALTHCHECK_KEYS, HEALTHCHECK),
        Table("Placement", "A replicated container's `placement:`.", PLACEMENT_KEYS, PLACEMENT,
              (("prefer", PREFER_CHOICES, PREFER),)),
        Table("Services", "Each entry of a play's `services:`.", SERVICE_KEYS, SERVICE),
    )


def _registry_lines() -> Iterator[str]:
    yield "## Registry settings"
    yield ""
    yield ("A play's `registry:` mapping, or the `registry` inventory variable of its hosts "
           "(set it once, e.g. in `group_vars/all`); a key of the other backend is refused. "
           "How the registry works: [registry.md](registry.md).")
    yield ""
    yield "| key | backend | default | meaning | example |"
    yield "|---|---|---|---|---|"
    for key, (backends, (default, meaning, example)) in REGISTRY.items():
        yield (f"| `{key}` | {backends.replace(' ', ', ')} | {_cell(default) or '-'} | "
               f"{_cell(meaning)} | {_code(example)} |")
    yield ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    padding = " " if "`" in text else ""
    return f"{fence}{padding}{_cell(text)}{padding}{fence}"


def _described(described: Mapping[str, Described], key: str, where: str) -> Described:
    if key not in described:
        raise LookupError(f"{where} key {key!r} has no entry in engine/playbook/docs.py")
    return described[key]


def _table_lines(table: Table) -> Iterator[str]:
    yield f"## {table.title}"
    yield ""
    yield table.intro
    yield ""
    yield "| key | default | meaning | example |"
    yield "|---|---|---|---|"
    for key in table.keys:
        default, meaning, example = _described(table.described, key, table.title)
        yield f"| `{key}` | {_cell(default)} | {_cell(meaning)} | {_code(example)} |"
    yield ""
    for key, values, meanings in table.choices:
        yield f"`{key}` is one of:"
        yield ""
        for value in values:
            yield f"- `{value}`: {_described(meanings, value, f'{key!r} value')}"
        yield ""


def _action_lines(action: str) -> Iterator[str]:
    entry = CATALOG[action]
    summary, arguments = ACTIONS[action]
    yield f"### `{action}`"
    yield ""
    yield summary
    if entry.free_form:
        written = arguments[entry.free_form][2].partition(": ")[2]
        yield f"A plain string stands for `{entry.free_form}`: `{action}: {written}`."
    if entry.one_of:
        yield f"Needs at least one of: {', '.join(f'`{key}`' for key in entry.one_of)}."
    yield ""
    yield "| argument | default | meaning | example |"
    yield "|---|---|---|---|"
    for key in [*(key for key in arguments if key in entry.allowed),
                *sorted(entry.allowed - set(arguments))]:
        default, meaning, example = _described(arguments, key, f"action {action!r}")
        if key in entry.required:
            default = REQUIRED
        elif key in entry.one_of:
            default = "one of " + ", ".join(entry.one_of)
        yield f"| `{key}` | {_cell(default) or '-'} | {_cell(meaning)} | {_code(example)} |"
    yield ""


def _surprise_lines() -> Iterator[str]:
    yield "## Rules that surprise"
    yield ""
    for number, (rule, example) in enumerate(SURPRISES, 1):
        yield f"{number}. {rule}"
        yield ""
        yield "    ```yaml"
        yield from (f"    {line}" for line in example.splitlines())
        yield "    ```"
        yield ""


def playbook_reference() -> str:
    """docs/playbook.md, as the tables and this module describe it."""
    lines = [
        f"<!-- Generated by `{COMMAND}` from the loader's tables and "
        "engine/playbook/docs.py; do not edit by hand. -->",
        "",
        "# Playbook reference",
        "",
        "Every key a play, task, container, health check, placement and service accepts, "
        "and every action argument. Any other key is refused before anything runs (exit 4, "
        "with its line and a did-you-mean). Strings may be Jinja2 templates, rendered per "
        "host, except where a key says it is a literal. Durations are seconds or strings "
        "such as `500ms`, `2s`, `1m`.",
        "",
        *_surprise_lines(),
    ]
    for table in tables():
        lines += _table_lines(table)
    lines += _registry_lines()
    lines += ["## Actions", "",
              "A task has exactly one of these. Each reads the host's state, compares it with "
              "what the task asks, and changes only the difference; `--check` stops after "
              "the compare.", ""]
    for action in CATALOG:
        lines += _action_lines(action)
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":
    print(playbook_reference(), end="")
