"""Ansible's `docker_container` and `docker_compose_v2` tasks as play `containers:` entries.

play does not run these modules as tasks: a container is desired state, reconciled. The
loader refuses such a task (exit 4) and prints the entry this module builds, ready to paste.
Pure: a task's arguments in, YAML text out.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

# docker_container argument -> play container key, where only the name differs
RENAMED = {"name": "name", "image": "image", "command": "command", "entrypoint": "entrypoint",
           "env": "env", "env_file": "env_file", "published_ports": "ports", "ports": "ports",
           "volumes": "volumes", "network_mode": "network", "labels": "labels",
           "memory": "memory", "cpus": "cpus", "user": "user", "working_dir": "workdir",
           "stop_timeout": "stop_timeout"}
# arguments that need no counterpart (play always detaches, recreates on a spec change)
IMPLIED = frozenset({"detach", "recreate", "restart", "state", "pull", "restart_policy",
                     "restart_retries", "healthcheck", "container_default_behavior",
                     "comparisons", "image_comparison", "networks", "networks_cli_compatible",
                     "purge_networks", "keep_volumes", "force_kill", "mounts"})
STATES = {"started": "started", "present": "started", "stopped": "stopped", "absent": "absent"}
TASK_KEYWORDS_KEPT = ("when", "tags")
# compose service key -> play container key, where only the name differs
COMPOSE_RENAMED = {"image": "image", "command": "command", "entrypoint": "entrypoint",
                   "ports": "ports", "volumes": "volumes", "network_mode": "network",
                   "restart": "restart", "user": "user", "working_dir": "workdir",
                   "mem_limit": "memory", "cpus": "cpus", "env_file": "env_file",
                   "stop_grace_period": "stop_timeout"}
COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")


def container_entry(task: Mapping[str, Any], args: Mapping[str, Any]) -> tuple[
        dict[str, Any], list[str]]:
    """The `containers:` entry for one docker_container task, and the arguments it drops."""
    entry: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in args.items():
        if key in RENAMED:
            entry[RENAMED[key]] = value
        elif key not in IMPLIED:
            dropped.append(key)
    if "mounts" in args:
        entry["volumes"] = [*entry.get("volumes", []), *_mounts(args["mounts"], dropped)]
    if args.get("networks") and "network" not in entry:
        dropped.append("networks (play containers use host networking: network: host)")
    if args.get("restart_policy"):
        policy = str(args["restart_policy"])
        retries = args.get("restart_retries")
        entry["restart"] = f"{policy}:{retries}" if policy == "on-failure" and retries else policy
    if isinstance(args.get("healthcheck"), Mapping):
        entry["healthcheck"] = _healthcheck(args["healthcheck"])
    state = STATES.get(str(args.get("state", "started")))
    if state is None:
        dropped.append(f"state: {args.get('state')}")
    elif state != "started":
        entry["state"] = state
    if "pull" in args:
        entry["pull"] = _pull(args["pull"])
    entry.setdefault("name", task.get("name", "CHANGE-ME"))
    for keyword in TASK_KEYWORDS_KEPT:
        if keyword in task:
            entry[keyword] = task[keyword]
    return _ordered(entry), dropped


def compose_entries(definition: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The `containers:` entries for a compose project's services."""
    services = definition.get("services")
    if not isinstance(services, Mapping):
        return [], ["the compose definition has no services"]
    entries, dropped = [], []
    for service, spec in services.items():
        if not isinstance(spec, Mapping):
            continue
        entry: dict[str, Any] = {"name": spec.get("container_name", service)}
        for key, value in spec.items():
            if key in COMPOSE_RENAMED:
                entry[COMPOSE_RENAMED[key]] = value
            elif key == "environment":
                entry["env"] = _key_values(value)
            elif key == "labels":
                entry["labels"] = _key_values(value)
            elif key == "healthcheck" and isinstance(value, Mapping):
                entry["healthcheck"] = _healthcheck(value)
            elif key == "depends_on":
                entry["depends_on"] = list(value)
            elif key not in ("container_name", "networks"):
                dropped.append(f"{service}.{key}")
        entries.append(_ordered(entry))
    return entries, dropped


def read_compose_definition(args: Mapping[str, Any], playbook: Path) -> Mapping[str, Any] | None:
    """A docker_compose_v2 task's project: `definition`, else its compose file when the
    path is written literally and exists beside the playbook."""
    definition = args.get("definition")
    if isinstance(definition, Mapping):
        return definition
    source = args.get("project_src")
    if not isinstance(source, str) or "{" in source:
        return None
    folder = Path(source) if Path(source).is_absolute() else playbook.parent / source
    names = args.get("files") or list(COMPOSE_FILES)
    for name in names if isinstance(names, list) else [names]:
        candidate = folder / str(name)
        if candidate.is_file():
            try:
                loaded = yaml.safe_load(candidate.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                return None
            return loaded if isinstance(loaded, Mapping) else None
    return None


def as_yaml(entries: list[dict[str, Any]]) -> str:
    """`containers:` with the entries, indented as a play's key, ready to paste."""
    text = yaml.dump({"containers": _plain(entries)}, Dumper=_IndentedDumper, sort_keys=False,
                     default_flow_style=False, allow_unicode=True, width=100)
    return "".join(f"  {line}\n" for line in text.splitlines())


class _IndentedDumper(yaml.SafeDumper):
    """Lists indented under their key, as playbooks are written."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _plain(value: Any) -> Any:
    """Plain dicts, lists and scalars (the loader's line-numbered subclasses do not dump)."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value


def _healthcheck(check: Mapping[str, Any]) -> dict[str, Any]:
    test = check.get("test")
    if isinstance(test, list) and test and test[0] in ("CMD", "CMD-SHELL"):
        test = test[1] if test[0] == "CMD-SHELL" and len(test) == 2 else test[1:]
    converted: dict[str, Any] = {"cmd": test}
    for key in ("interval", "timeout", "retries", "start_period"):
        if key in check:
            converted[key] = check[key]
    return converted


def _mounts(mounts: Any, dropped: list[str]) -> list[str]:
    volumes = []
    for mount in mounts if isinstance(mounts, list) else []:
        if isinstance(mount, Mapping) and mount.get("type", "volume") in ("bind", "volume") \
                and mount.get("source") and mount.get("target"):
            suffix = ":ro" if mount.get("read_only") else ""
            volumes.append(f"{mount['source']}:{mount['target']}{suffix}")
        else:
            dropped.append(f"mounts entry {mount!r}")
    return volumes


def _pull(value: Any) -> str:
    if isinstance(value, bool):
        return "always" if value else "missing"
    return {"not_present": "missing"}.get(str(value), str(value))


def _key_values(value: Any) -> Any:
    """Compose's ["K=V", ...] list form as a mapping."""
    if isinstance(value, list):
        return dict(str(item).partition("=")[::2] for item in value)
    return value


# the order a play's own containers are written in (README's example)
ORDER = ("name", "image", "pull", "command", "entrypoint", "env", "env_file", "ports", "volumes",
         "network", "restart", "labels", "healthcheck", "user", "workdir", "cpus", "memory",
         "stop_timeout", "depends_on", "state", "when", "tags")


def _ordered(entry: dict[str, Any]) -> dict[str, Any]:
    return {key: entry[key] for key in sorted(entry, key=ORDER.index)}
