"""The container step (engine/containers/step.py) against a fake host, as pyinfra tests
its operations: each file in tests/data/container_step/cases/ gives what the host holds
(the facts round's answer) and the docker commands the step must send for it, with the
step's status and message and what it did to the registry. Adding a case is adding a file.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.connection import CommandResult
from engine.containers import docker
from engine.containers.context import ContainerContext
from engine.containers.facts import HOST_LOCK, normalize_image
from engine.containers.spec import LABEL_HASH, LABEL_MANAGED, desired_container
from engine.containers.step import ContainerSteps
from engine.inventory import load_inventory
from engine.names import instance_id
from engine.plan import Plan, plan_run
from engine.playbook import ContainerSpec, Play, load_playbook
from engine.registry import Instance
from engine.templating import render

DATA = Path(__file__).parents[1] / "data" / "container_step"
CASES = sorted((DATA / "cases").glob("*.yml"))
HOST = "web1"
IMAGE_ID = "sha256:app2"


class FakeHost:
    """Answers the step's commands from the case and writes each down as a short line:
    `facts <images>`, `pull <image>`, `run|create <options but labels>`, `wait <name>`,
    `prune <repository> <keep>`, and the plain docker lines sent in one round trip."""

    def __init__(self, facts: list[dict[str, Any]], answers: dict[str, list[str]]) -> None:
        self.facts = facts
        self.answers = {line: list(states) for line, states in answers.items()}
        self.sent: list[str] = []

    def run(self, argv: list[str], **options: Any) -> CommandResult:
        line, stdout, status = self._answer(argv)
        self.sent.append(line)
        return CommandResult(shlex.join(argv), status, stdout, "", 0.0)

    def _answer(self, argv: list[str]) -> tuple[str, str, int]:
        assert argv[:2] == ["/bin/sh", "-c"], argv
        script, args = argv[2], argv[4:]
        if argv[3] == "play-facts":
            return " ".join(["facts", *args[1:]]), json.dumps(self.facts), 0
        if script == docker._PULL:
            return f"pull {args[0]}", f"{IMAGE_ID}\n", 0
        if script == docker._CREATE:
            name, verb, _, *rest = args
            assert rest[:2] == ["--name", name]
            shown = [word for i, word in enumerate(rest) if word != "--label"
                     and (i == 0 or rest[i - 1] != "--label")]
            return " ".join([verb, *shown]), "", 0
        if script == docker._WAIT_HEALTHY:
            line = f"wait {args[0]}"
            state = (self.answers.get(line) or ["running healthy"]).pop(0)
            return line, state, 0 if state in ("running healthy", "running none") else 1
        if script == docker._PRUNE:
            return f"prune {' '.join(args)}", "", 0
        assert script.startswith(HOST_LOCK), script
        lines = [_plain(command) for command in script[len(HOST_LOCK):].split(" && ")]
        return " && ".join(lines), "", 0


def _plain(line: str) -> str:
    if line.startswith("{ docker rm"):   # the remove that tolerates a container gone
        line = line[2:line.index(" >/dev/null")]
    return line.removesuffix(" >/dev/null")


class FakeRegistry:
    def __init__(self, services: list[str]) -> None:
        self.records = {(name, instance_id(name, HOST)): _instance(name) for name in services}
        self.calls: list[str] = []

    def instances(self, service: str | None = None) -> list[Instance]:
        return [i for i in self.records.values() if service in (None, i.service)]

    def register(self, instance: Instance) -> None:
        self.calls.append(f"register {instance.service}")
        self.records[(instance.service, instance.instance)] = instance

    def deregister(self, service: str, instance: str) -> None:
        self.calls.append(f"deregister {service}")
        del self.records[(service, instance)]


def _instance(service: str) -> Instance:
    return Instance(service=service, instance=instance_id(service, HOST), host=HOST,
                    address="10.0.0.1", port=8080, tags=(), meta={}, container="web",
                    image_id="sha256:old", registered_at="2026-01-01T00:00:00Z")


def _inspected(plan: Plan, scope: dict[str, Any], held: dict[str, Any]) -> list[dict[str, Any]]:
    """Docker's inspect JSON for what the case says the host holds: `spec: desired` is a
    container made from the play's spec (its hash label), `spec: old` one of another."""
    step = next(s for s in plan.steps.values() if isinstance(s.body, ContainerSpec))
    assert isinstance(step.body, ContainerSpec)
    fields = render(step.body.per_host_fields(), scope)
    desired = desired_container(step.name, fields, {}, "site")
    items: list[dict[str, Any]] = []
    for container in held["containers"]:
        spec_hash = desired.spec_hash if container["spec"] == "desired" else "another"
        items.append({
            "Id": f"id-{container['name']}", "Name": f"/{container['name']}",
            "Config": {"Labels": {LABEL_MANAGED: "true", LABEL_HASH: spec_hash}},
            "State": {"Status": container["status"],
                      **({"Health": {"Status": container["health"], "Log": []}}
                         if container.get("health") else {})},
            "Image": IMAGE_ID if container["spec"] == "desired" else "sha256:old"})
    items += [{"Id": IMAGE_ID, "RepoTags": [normalize_image(image)]}
              for image in held["images"]]
    return items


@pytest.mark.parametrize("case_file", CASES, ids=[case.stem for case in CASES])
def test_the_container_step_sends_the_commands_the_host_needs(case_file: Path) -> None:
    case = yaml.safe_load(case_file.read_text())
    plan = plan_run(load_playbook(DATA / "play.yml"), load_inventory([DATA / "hosts.yml"]))
    scope = {"web_state": "started", **case.get("vars", {})}
    host = FakeHost(_inspected(plan, scope, case["host"]), case.get("answers", {}))
    registry = FakeRegistry(case.get("registry", []))

    def registry_for(play: Play) -> FakeRegistry:
        return registry

    context = ContainerContext(lambda name: host, registry_for,  # type: ignore[arg-type]
                               lambda name, play: scope, lambda name, container: False)
    step_id = next(s.id for s in plan.steps.values() if isinstance(s.body, ContainerSpec))
    result = ContainerSteps(plan, context).run_container((HOST, step_id), scope)

    expected = case["expect"]
    assert host.sent == expected["commands"]
    assert (result.status, result.msg) == (expected["status"], expected["msg"])
    assert registry.calls == expected.get("registry", [])


def test_check_mode_reports_the_work_and_sends_nothing_but_the_facts_round() -> None:
    plan = plan_run(load_playbook(DATA / "play.yml"), load_inventory([DATA / "hosts.yml"]))
    scope = {"web_state": "started"}
    host = FakeHost(_inspected(plan, scope, {"containers": [], "images": []}), {})
    context = ContainerContext(lambda name: host, lambda play: FakeRegistry([]),  # type: ignore[arg-type]
                               lambda name, play: scope, lambda name, container: False,
                               check=True)
    step_id = next(s.id for s in plan.steps.values() if isinstance(s.body, ContainerSpec))
    result = ContainerSteps(plan, context).run_container((HOST, step_id), scope)
    assert (result.status, result.msg, host.sent) == ("changed", "would create (no such container)",
                                                ["facts app:2"])
