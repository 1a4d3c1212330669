"""Read a playbook file into a `Playbook`, rejecting every mistake with its line.

Parsing a play checks its own keys and types; `engine/playbook/references.py`
then checks the names that point across steps and plays.
"""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.actions.catalog import CATALOG, action_name
from engine.errors import InputError, Location, did_you_mean
from engine.playbook.ansible import refuse_ansible_play_keys, refuse_ansible_task_key
from engine.playbook.expansion import Expansion, TaskEntry, finish_step, local_file_bases
from engine.playbook.handlers import resolve_notify
from engine.playbook.keywords import (
    PLAY_KEYWORDS,
    merged_args,
    read_environment,
    read_loop,
    split_key_values,
)
from engine.playbook.keywords import TASK_KEYWORDS as ANSIBLE_TASK_KEYWORDS
from engine.playbook.model import (
    ContainerSpec,
    HealthCheck,
    PlacementSpec,
    Play,
    Playbook,
    ServiceSpec,
    Step,
    StepKind,
    TaskSpec,
    step_id,
)
from engine.playbook.references import check_references
from engine.playbook.resolve import checked_replicas, checked_serial
from engine.playbook.structure import expand_play
from engine.playbook.values import (
    Problem,
    as_written,
    container_problems,
    service_problems,
    task_problems,
)
from engine.schema import Fields, type_name
from engine.templating import is_template
from engine.yamlfile import derived_map, load_yaml_file, where

PLAY_KEYS = ("name", "hosts", "serial", "max_fail_percentage", "vars", "vars_files", "tasks",
             "handlers", "containers", "services", "after", "registry", "any_errors_fatal",
             "become", "tags", "pre_tasks", "roles", "post_tasks", "gather_facts",
             *PLAY_KEYWORDS)
TASK_KEYWORDS = ("name", "when", "loop", "register", "notify", "after", "retries", "until",
                 "delay", "timeout", "ignore_errors", "changed_when", "failed_when", "become",
                 "run_once", "tags", "no_log", "vars", "delegate_to", *ANSIBLE_TASK_KEYWORDS)
# the task Ansible names "Gathering Facts", first on every host of a `gather_facts` play
GATHER_FACTS = "Gathering Facts"
CONTAINER_KEYS = ("name", "image", "pull", "command", "entrypoint", "env", "env_file", "ports",
                  "volumes", "network", "restart", "labels", "healthcheck", "user", "workdir",
                  "cpus", "memory", "stop_timeout", "reload_signal", "depends_on", "after", "state",
                  "keep_images", "when", "tags", "replicas", "placement")
PLACEMENT_KEYS = ("spread", "prefer", "constraints", "max_per_host")
PREFER_CHOICES = ("least-loaded", "inventory-order")
SERVICE_KEYS = ("name", "container", "port", "tags", "meta", "drain", "after", "when")
HEALTHCHECK_KEYS = ("cmd", "interval", "timeout", "retries", "start_period")
RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")

StepParser = Callable[[int, StepKind, Any, Path, Location], Step]


def load_playbook(path: str | Path, extra_vars: Mapping[str, Any] | None = None) -> Playbook:
    """Load and validate a playbook; any mistake raises `InputError` with file:line.
    `extra_vars` (-e) may name what a templated include or role name needs."""
    path = Path(path)
    entries = _play_entries(path, ())
    plays = tuple(_parse_play(index, raw, play_path, at, extra_vars or {})
                  for index, (raw, play_path, at) in enumerate(entries))
    playbook = Playbook(str(path), plays)
    return check_references(playbook, [raw for raw, _, _ in entries])


def _play_entries(path: Path, importers: tuple[Path, ...]) -> list[tuple[Any, Path, Location]]:
    """The raw plays of a playbook file, with `- import_playbook: other.yml` entries
    replaced by that file's plays (Ansible's spelling), each with the file it came from."""
    document = load_yaml_file(path)
    here = Location(str(path), 1)
    if not isinstance(document, list) or not document:
        raise InputError("a playbook is a non-empty list of plays; start each play with "
                         "'- name: ...' and 'hosts: ...'", where(document, default=here))
    entries: list[tuple[Any, Path, Location]] = []
    for index, raw in enumerate(document):
        at = where(document, index, here)
        if isinstance(raw, dict) and "import_playbook" in raw:
            entries.extend(_imported(raw, path, (*importers, path.resolve()), at))
        else:
            entries.append((raw, path, at))
    return entries


def _imported(raw: Any, path: Path, importers: tuple[Path, ...], at: Location,
              ) -> list[tuple[Any, Path, Location]]:
    fields = Fields(raw, "an import_playbook entry", at)
    fields.reject_unknown(("import_playbook", "name"))
    target = fields.string("import_playbook", required=True)
    if is_template(target):
        raise InputError("import_playbook is read before any variable exists: write the path "
                         "literally", fields.at("import_playbook"))
    imported = _resolve(path, target).resolve()
    if imported in importers:
        chain = " -> ".join(p.name for p in (*importers, imported))
        raise InputError(f"playbooks import each other in a cycle: {chain}",
                         fields.at("import_playbook"))
    if not imported.is_file():
        raise InputError(f"import_playbook: no such playbook {target!r} (looked for "
                         f"{imported})", fields.at("import_playbook"))
    return _play_entries(imported, importers)


def _parse_play(index: int, raw: Any, path: Path, at: Location,
                extra_vars: Mapping[str, Any]) -> Play:
    fields = Fields(raw, "a play", at)
    refuse_ansible_play_keys(fields.mapping, PLAY_KEYS, fields.at)
    fields.reject_unknown(PLAY_KEYS)
    name = fields.string("name", required=True)
    play_tags = frozenset(fields.string_list("tags"))
    gather_facts = fields.static_boolean("gather_facts", False)
    expansion = expand_play(fields, path, index, extra_vars,
                            (step_id(index, "task", GATHER_FACTS),) if gather_facts else ())
    steps = [Step(index, "task", GATHER_FACTS, fields.at("gather_facts"),
                  TaskSpec(action="setup", args={}), tags=frozenset({"always"}))
             ] if gather_facts else []
    steps += [Step(step.play, step.kind, step.name, step.source, step.body, step.after,
                   step.tags | play_tags) for step in _expanded_tasks(index, expansion, path)]
    sections: tuple[tuple[StepKind, str, StepParser], ...] = (
        ("container", "containers", _parse_container), ("service", "services", _parse_service))
    for kind, key, parse in sections:
        for position, item in enumerate(_step_list(fields, key)):
            item_at = where(fields.raw(key), position, fields.at(key))
            step = parse(index, kind, item, path, item_at)
            steps.append(dataclasses.replace(step, tags=step.tags | play_tags))
    return Play(
        index=index,
        name=name,
        hosts=_hosts_pattern(fields),
        source=fields.location,
        steps=tuple(steps),
        vars=fields.mapping_of("vars"),
        vars_files=_vars_files(fields, path),
        serial=_serial(fields),
        max_fail_percentage=fields.number("max_fail_percentage"),
        any_errors_fatal=fields.static_boolean("any_errors_fatal", False),
        after=None,  # play names, resolved to indexes by check_references
        registry=fields.mapping_of("registry"),
        become=fields.boolean("become"),
        blocks=tuple(expansion.blocks),
        sequence=tuple(expansion.sequence),
        gather_facts=gather_facts,
        become_user=fields.string("become_user"),
        remote_user=fields.string("remote_user"),
        environment=read_environment(fields, f"play {name!r}"),
    )


def _vars_files(fields: Fields, path: Path) -> tuple[str, ...]:
    """The play's vars files beside the playbook; one written literally must exist."""
    files = []
    for file in fields.string_list("vars_files"):
        resolved = _resolve(path, file)
        if not is_template(file) and not resolved.is_file():
            raise InputError(f"vars file {file!r} not found (looked for {resolved}); a relative "
                             "path is read beside the playbook", fields.at("vars_files"))
        files.append(str(resolved))
    return tuple(files)


def _expanded_tasks(play: int, expansion: Expansion, playbook: Path) -> list[Step]:
    """The play's tasks and handlers, each parsed where it was written and given what its
    blocks and roles give it; `notify:` then resolved as Ansible does (listen topics,
    role handlers)."""
    steps: list[Step] = []
    listen: dict[str, tuple[str, ...]] = {}
    sections: tuple[tuple[StepKind, list[TaskEntry]], ...] = (
        ("task", expansion.tasks), ("handler", expansion.handlers))
    for kind, entries in sections:
        for entry in entries:
            raw, topics = _without_listen(entry.raw, entry.at) if kind == "handler" else (
                entry.raw, ())
            step = _parse_task(play, kind, raw, entry.path, entry.at,
                               local_file_bases(entry, playbook))
            step = finish_step(step, entry)
            if topics:
                listen[step.name] = topics
            steps.append(step)
    return resolve_notify(steps, listen)


def _without_listen(raw: Any, at: Location) -> tuple[Any, tuple[str, ...]]:
    """A handler without its `listen:` topics, and the topics."""
    if not isinstance(raw, dict) or "listen" not in raw:
        return raw, ()
    fields = Fields(raw, "a handler", at)
    topics = fields.string_list("listen")
    handler = derived_map({key: value for key, value in raw.items() if key != "listen"}, raw,
                          at)
    return handler, topics


def _step_list(fields: Fields, key: str) -> list[Any]:
    value = fields.raw(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f"{key!r} of a play must be a list of steps, each starting with "
                         f"'- name: ...', not {type_name(value)}", fields.at(key))
    return value


def _hosts_pattern(fields: Fields) -> str:
    value = fields.required("hosts")
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ":".join(value)  # Ansible accepts a list of patterns: their union
    return str(fields.string("hosts"))


def _serial(fields: Fields) -> tuple[Any, ...]:
    value = fields.raw("serial")
    if value is None:
        return ()
    sizes = value if isinstance(value, list) else [value]
    # a template (of play vars and -e, never host vars: batches come first) is rendered
    # and checked by engine/playbook/resolve.py once the extra vars are known
    return tuple(size if is_template(size) else checked_serial(size, fields.at("serial"))
                 for size in sizes)


def _resolve(playbook: Path, relative: str) -> Path:
    candidate = Path(relative).expanduser()
    return candidate if candidate.is_absolute() else (playbook.parent / candidate).resolve()


def _meta_name(fields: Fields, written: list[str]) -> str | None:
    """A `meta:` task may go without a name, as Ansible playbooks write it: its own words and
    line keep it unique in the play."""
    if fields.has("name") or len(written) != 1 or action_name(written[0]) != "meta":
        return None
    return f"meta: {fields.raw(written[0])} (line {fields.location.line})"


def _step_name(fields: Fields) -> str:
    name = fields.string("name", required=True)
    if not name.strip():
        raise InputError(f"{fields.what} needs a non-empty 'name'", fields.at("name"))
    return str(name)


def _parse_task(play: int, kind: StepKind, raw: Any, path: Path, at: Location,
                bases: tuple[Path, ...] = ()) -> Step:
    fields = Fields(raw, f"a {kind}", at)
    written = [key for key in fields.mapping if action_name(key) is not None]
    unknown = [key for key in fields.mapping
               if action_name(key) is None and key not in TASK_KEYWORDS]
    if unknown:
        key = unknown[0]
        refuse_ansible_task_key(key, fields.mapping, fields.at(key), kind)
        raise InputError(
            f"unknown key {key!r} in a {kind}{did_you_mean(key, (*CATALOG, *TASK_KEYWORDS))}"
            f" (actions: {', '.join(CATALOG)}; keywords: {', '.join(TASK_KEYWORDS)})",
            fields.at(key))
    name = _meta_name(fields, written) or _step_name(fields)
    if len(written) != 1:
        found = ", ".join(written) if written else "none"
        raise InputError(f"{kind} {name!r} must have exactly one action ({', '.join(CATALOG)})"
                         f"; found {found}", fields.location)
    key = written[0]
    action = str(action_name(key))
    bases = bases or (path,)
    args = _action_args(action, key, fields, bases)
    _refuse(f"{kind} {name!r}", task_problems(action, as_written(args)), fields.raw(key),
            fields.at(key))
    loop = read_loop(fields, f"{kind} {name!r}")
    body = TaskSpec(
        action=action,
        args=args,
        when=_condition(fields, "when"),
        loop=None if loop is None else loop.items,
        register=fields.string("register"),
        notify=fields.string_list("notify"),
        retries=fields.integer("retries"),
        until=_condition(fields, "until"),
        delay=fields.duration("delay"),
        timeout=fields.duration("timeout"),
        ignore_errors=fields.boolean("ignore_errors", False),
        changed_when=_condition(fields, "changed_when"),
        failed_when=_condition(fields, "failed_when"),
        become=fields.boolean("become"),
        run_once=fields.static_boolean("run_once", False),
        no_log=fields.boolean("no_log", False),
        vars=fields.mapping_of("vars"),
        sources=tuple(str(base) for base in bases),
        delegate_to=fields.string("delegate_to"),
        **({} if loop is None else {"loop_kind": loop.kind, "loop_var": loop.loop_var,
                                    "index_var": loop.index_var, "label": loop.label}),
        become_user=fields.string("become_user"),
        remote_user=fields.string("remote_user"),
        environment=read_environment(fields, f"{kind} {name!r}"),
    )
    return Step(play, kind, name, fields.location, body, fields.string_list("after"),
                frozenset(fields.string_list("tags")))


def _condition(fields: Fields, key: str) -> Any:
    """when / until / changed_when / failed_when: a Jinja2 expression, a boolean, or a list of
    expressions that must all hold (as in Ansible)."""
    value = fields.raw(key)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, list) and all(isinstance(item, (str, bool)) for item in value):
        return " and ".join(f"({item})" for item in value)
    raise InputError(f"{key!r} of {fields.what} must be an expression such as "
                     f"\"result.rc == 0\", not {type_name(value)}", fields.at(key))


def _action_args(action: str, written: str, fields: Fields, bases: tuple[Path, ...]) -> Any:
    """The arguments of action `action`, written as key `written` (`ansible.builtin.copy`)."""
    spec = CATALOG[action]
    value = merged_args(action, fields.raw(written), fields.raw("args"), fields.at("args"))
    at = fields.at(written)
    if isinstance(value, str) and spec.free_form:
        return value
    if isinstance(value, str) and value.strip():
        try:
            value = split_key_values(written, value)
        except ValueError as error:
            raise InputError(str(error), at) from None
    if value is None and spec.free_form is None and not spec.required and not spec.one_of:
        return {}
    arguments = Fields(value, f"the {written!r} action", at)
    if not spec.any_names:
        arguments.reject_unknown(spec.allowed)
    for key in spec.required:
        arguments.required(key)
    if spec.one_of and not any(arguments.has(key) for key in spec.one_of):
        raise InputError(f"the {written!r} action needs one of: {', '.join(spec.one_of)}", at)
    resolved = dict(arguments.mapping)
    if spec.local_file is not None:
        key, folder = spec.local_file
        source = resolved.get(key)
        if isinstance(source, str) and not is_template(source):
            resolved[key] = str(find_local_file(bases, folder, source, arguments.at(key)))
    return resolved


def _refuse(what: str, problems: Iterator[Problem], raw: Any, at: Location) -> None:
    """The first value Docker, POSIX or the registry would refuse, at its own line."""
    for path, problem in problems:
        for key in path:
            at = where(raw, key, at)
            raw = raw[key] if isinstance(raw, (dict, list)) and _has(raw, key) else None
        raise InputError(f"{what}: {problem}", at)


def _has(container: dict[Any, Any] | list[Any], key: Any) -> bool:
    if isinstance(container, dict):
        return key in container
    return isinstance(key, int) and 0 <= key < len(container)


def resolve_local_source(action: str, args: Any, bases: str | Sequence[str]) -> Any:
    """`args` of a task as rendered when it runs, with a template's or copy's `src` looked up
    beside the playbook (a role's folders first) as a literal one was when it loaded (the
    pre-run checks made sure it exists; ValueError, a failed step, if it went away since)."""
    local_file = CATALOG[action].local_file
    if local_file is None or not isinstance(args, dict):
        return args
    key, folder = local_file
    source = args.get(key)
    if not isinstance(source, str):
        return args
    bases = (bases,) if isinstance(bases, str) else bases
    try:
        found = find_local_file(tuple(Path(base) for base in bases), folder, source,
                                Location(bases[-1]))
    except InputError as error:
        raise ValueError(error.message) from None
    return {**args, key: str(found)}


def find_local_file(bases: Sequence[Path], folder: str, name: str, at: Location) -> Path:
    """Look up a template or file next to each of `bases` in turn (a role's tasks file, the
    task's own file, the playbook): `<dir>/<folder>/`, then `<dir>/../<folder>/` (the
    shipped layout, and a role's templates/ beside its tasks/), then `<dir>/` itself."""
    candidates = [Path(name).expanduser()] if Path(name).expanduser().is_absolute() else [
        candidate for base in (path.parent for path in bases)
        for candidate in (base / folder / name, base.parent / folder / name, base / name)]
    candidates = list(dict.fromkeys(candidate.absolute() for candidate in candidates))
    for candidate in candidates:
        try:
            if candidate.is_file():
                return candidate.resolve()
        except (OSError, ValueError) as error:  # a name too long for the file system, NUL
            raise InputError(f"file {name!r} cannot be looked up: "
                             f"{getattr(error, 'strerror', None) or error}", at) from None
    looked = ", ".join(str(candidate) for candidate in candidates)
    raise InputError(f"file {name!r} not found (looked in: {looked})", at)


def _parse_container(play: int, kind: StepKind, raw: Any, path: Path, at: Location) -> Step:
    fields = Fields(raw, "a container", at)
    fields.reject_unknown(CONTAINER_KEYS)
    name = _step_name(fields)
    restart = fields.string("restart")
    if restart is not None and not is_template(restart) and \
            restart.split(":")[0] not in RESTART_POLICIES:
        raise InputError(f"'restart' of container {name!r} must be one of "
                         f"{', '.join(RESTART_POLICIES)} (on-failure:N allowed), not {restart!r}"
                         f"{did_you_mean(restart, RESTART_POLICIES)}", fields.at("restart"))
    body = ContainerSpec(
        image=fields.string("image", required=True),
        pull=fields.choice("pull", ("missing", "always", "never"), "missing"),
        command=fields.command("command"),
        entrypoint=fields.command("entrypoint"),
        env=fields.string_map("env"),
        env_file=tuple(str(_resolve(path, file)) for file in fields.string_list("env_file")),
        ports=fields.string_list("ports", one_allowed=False),
        volumes=fields.string_list("volumes", one_allowed=False),
        network=fields.string("network"),
        restart=restart,
        labels=fields.string_map("labels"),
        healthcheck=_healthcheck(fields, name),
        user=fields.string("user"),
        workdir=fields.string("workdir"),
        cpus=fields.number("cpus"),
        memory=fields.string("memory"),
        stop_timeout=fields.duration("stop_timeout"),
        reload_signal=_reload_signal(fields, name),
        depends_on=fields.string_list("depends_on"),
        state=fields.choice("state", ("started", "stopped", "absent"), "started"),
        keep_images=fields.integer("keep_images", minimum=1),
        when=_condition(fields, "when"),
        replicas=_replicas(fields),
        placement=_placement(fields, name),
    )
    _refuse(f"container {name!r}", container_problems(as_written(name), as_written(body)),
            fields.mapping, fields.location)
    return Step(play, "container", name, fields.location, body, fields.string_list("after"),
                frozenset(fields.string_list("tags")), follows_tasks="after" not in fields.mapping)


def _replicas(fields: Fields) -> int | str | None:
    replicas = fields.raw("replicas")
    if replicas is None:
        if fields.has("placement"):
            raise InputError("'placement' needs 'replicas: N' beside it (without replicas the "
                             "container runs on every host of the play)", fields.at("placement"))
        return None
    if is_template(replicas):
        return str(replicas)  # of play vars and -e: engine/playbook/resolve.py
    return checked_replicas(replicas, fields.at("replicas"), fields.what)


def _placement(fields: Fields, container: str) -> PlacementSpec | None:
    if fields.raw("replicas") is None:
        return None
    if fields.raw("placement") is None:
        return PlacementSpec()
    placement = Fields(fields.raw("placement"), f"the placement of container {container!r}",
                       fields.at("placement"))
    placement.reject_unknown(PLACEMENT_KEYS)
    prefer = placement.choice("prefer", PREFER_CHOICES, "inventory-order")
    spread = placement.boolean("spread", True)
    max_per_host = placement.integer("max_per_host", 1, minimum=1)
    if is_template(spread) or is_template(max_per_host):
        raise InputError(f"the placement of container {container!r} is decided before any "
                         "template is rendered: write spread and max_per_host literally",
                         placement.location)
    if max_per_host > 1:
        # containers use host networking in this project (SPEC: the lab runs with
        # --bridge=none), so two replicas on one host would fight over the same port
        raise InputError(f"max_per_host of container {container!r} must be 1: replicas share "
                         "their host's network, so a second replica on a host would collide "
                         "with the first on its ports", placement.at("max_per_host"))
    constraints = placement.string_map("constraints")
    return PlacementSpec(spread=spread,
                         prefer=None if prefer == "inventory-order" else prefer,
                         constraints={str(k): str(v) for k, v in constraints.items()},
                         max_per_host=max_per_host)


def _reload_signal(fields: Fields, container: str) -> str | None:
    """`reload_signal: USR2` (or SIGUSR2, any case): a notified container gets this signal
    (`docker kill --signal`) instead of a restart, for servers that reload their
    configuration on a signal (HAProxy in master-worker mode: USR2; nginx: HUP). Written
    literally, returned as SIGNAME."""
    written = fields.string("reload_signal")
    if written is None:
        return None
    written = str(written)
    name = written.upper() if written.upper().startswith("SIG") else "SIG" + written.upper()
    names = sorted(s.name for s in signal.Signals if s.name not in ("SIGKILL", "SIGSTOP"))
    if name not in names or is_template(written):
        raise InputError(f"'reload_signal' of container {container!r} must be a signal name "
                         f"such as USR2 or HUP (one of {', '.join(n[3:] for n in names)}), not "
                         f"{written!r}{did_you_mean(name, names)}"
                         + (": KILL and STOP would not reload it" if name in (
                             "SIGKILL", "SIGSTOP") else ""), fields.at("reload_signal"))
    return name


def _healthcheck(fields: Fields, container: str) -> HealthCheck | None:
    if fields.raw("healthcheck") is None:
        return None
    check = Fields(fields.raw("healthcheck"), f"the healthcheck of container {container!r}",
                   fields.at("healthcheck"))
    check.reject_unknown(HEALTHCHECK_KEYS)
    check.required("cmd")
    return HealthCheck(cmd=check.command("cmd"), interval=check.duration("interval"),
                       timeout=check.duration("timeout"),
                       retries=check.integer("retries", minimum=1),
                       start_period=check.duration("start_period"))


def _parse_service(play: int, kind: StepKind, raw: Any, path: Path, at: Location) -> Step:
    fields = Fields(raw, "a service", at)
    fields.reject_unknown(SERVICE_KEYS)
    name = _step_name(fields)
    port = fields.integer("port", minimum=1)
    fields.required("port")
    if isinstance(port, int) and port > 65535:
        raise InputError(f"'port' of service {name!r} must be 1..65535, not {port}",
                         fields.at("port"))
    body = ServiceSpec(container=fields.string("container", required=True), port=port,
                       tags=fields.string_list("tags"), meta=fields.string_map("meta"),
                       drain=fields.duration("drain", 0.0), when=_condition(fields, "when"))
    _refuse(f"service {name!r}", service_problems(as_written(name)), fields.mapping,
            fields.location)
    return Step(play, "service", name, fields.location, body, fields.string_list("after"))

