"""A play's `containers:` and `services:` entries parsed into `Step`s: the container's
fields, healthcheck, reload signal, replicas and placement; the service's port and drain.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from engine.errors import InputError, Location, did_you_mean
from engine.playbook.model import (
    ContainerSpec,
    HealthCheck,
    PlacementSpec,
    ServiceSpec,
    Step,
    StepKind,
)
from engine.playbook.resolve import checked_replicas
from engine.playbook.step_fields import beside_playbook, condition, refuse, step_name
from engine.playbook.values import as_written, container_problems, service_problems
from engine.schema import Fields
from engine.templating import is_template

CONTAINER_KEYS = ("name", "image", "pull", "command", "entrypoint", "env", "env_file", "ports",
                  "volumes", "network", "restart", "labels", "healthcheck", "user", "workdir",
                  "cpus", "memory", "stop_timeout", "reload_signal", "depends_on", "after", "state",
                  "keep_images", "when", "tags", "replicas", "placement")
PLACEMENT_KEYS = ("spread", "prefer", "constraints", "max_per_host")
PREFER_CHOICES = ("least-loaded", "inventory-order")
SERVICE_KEYS = ("name", "container", "port", "tags", "meta", "drain", "after", "when")
HEALTHCHECK_KEYS = ("cmd", "interval", "timeout", "retries", "start_period")
RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")


def parse_container(play: int, kind: StepKind, raw: Any, path: Path, at: Location) -> Step:
    fields = Fields(raw, "a container", at)
    fields.reject_unknown(CONTAINER_KEYS)
    name = step_name(fields)
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
        env_file=tuple(str(beside_playbook(path, file)) for file in fields.string_list("env_file")),
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
        when=condition(fields, "when"),
        replicas=_replicas(fields),
        placement=_placement(fields, name),
    )
    refuse(f"container {name!r}", container_problems(as_written(name), as_written(body)),
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


def parse_service(play: int, kind: StepKind, raw: Any, path: Path, at: Location) -> Step:
    fields = Fields(raw, "a service", at)
    fields.reject_unknown(SERVICE_KEYS)
    name = step_name(fields)
    port = fields.integer("port", minimum=1)
    fields.required("port")
    if isinstance(port, int) and port > 65535:
        raise InputError(f"'port' of service {name!r} must be 1..65535, not {port}",
                         fields.at("port"))
    body = ServiceSpec(container=fields.string("container", required=True), port=port,
                       tags=fields.string_list("tags"), meta=fields.string_map("meta"),
                       drain=fields.duration("drain", 0.0), when=condition(fields, "when"))
    refuse(f"service {name!r}", service_problems(as_written(name)), fields.mapping,
           fields.location)
    return Step(play, "service", name, fields.location, body, fields.string_list("after"))
