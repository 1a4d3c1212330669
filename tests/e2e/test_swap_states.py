"""Each state an interrupted container swap can leave on a host (engine/containers/swap.py),
made on lab1 with docker commands over the lab's ssh, then converged by one run of
play: exit 0, the container running and healthy with the wanted env, nothing left under
`<name>.play-old`, and the service registered only after the container step ended.
The pure side of the same states: tests/unit/test_swap.py."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable

import pytest
from deploys import IMAGE, Deploy
from lab_client import json_events

pytestmark = pytest.mark.lab

HOST = "lab1"
OLD = "one"   # the version deployed before the interruption
NEW = "two"   # the version the rerun wants


class Lab1:
    """Docker on lab1, as an operator (or a killed run) would leave it."""

    def __init__(self, deploy: Deploy) -> None:
        self.deploy = deploy
        self.web = deploy.service
        self.aside = f"{self.web}.play-old"
        self.new_labels: dict[str, str] = {}   # those of the NEW version's container

    def sh(self, script: str) -> str:
        result = self.deploy.lab.sh(self.deploy.lab.host(HOST), script)
        assert result.returncode == 0, (script, result.stderr)
        return result.stdout

    def run(self, greeting: str) -> list[dict[str, object]]:
        done = self.deploy.run("--limit", HOST, greeting=greeting)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
        return json_events(done.stdout)

    def labels(self, name: str) -> dict[str, str]:
        found: dict[str, str] = json.loads(self.sh(shlex.join(
            ["docker", "inspect", "--format", "{{json .Config.Labels}}", name])))
        return found

    def set_aside(self) -> None:
        """What the swap does first: stop the old one and rename it out of the way."""
        self.sh(f"docker stop -t 1 {self.web} >/dev/null && "
                f"docker rename {self.web} {self.aside}")

    def make(self, name: str, labels: dict[str, str], *, start: bool = True,
             command: str = "httpd -f -p {port} -h /", health: str | None = "true",
             health_retries: int = 2) -> None:
        """A container under `name` that play takes for the NEW version (by its labels;
        its env says so too)."""
        argv = ["docker", "run" if start else "create", *(["--detach"] if start else []),
                "--name", name, "--network", "host", "--env", f"GREETING={NEW}"]
        for key, value in labels.items():
            argv += ["--label", f"{key}={value}"]
        if health is not None:
            argv += ["--health-cmd", health, "--health-interval", "1s",
                     "--health-retries", str(health_retries), "--health-start-period", "0s"]
        argv += ["--", IMAGE, *shlex.split(command.format(port=self.deploy.port))]
        self.sh(shlex.join(argv) + " >/dev/null")

    def remove(self, name: str) -> None:
        self.sh(f"docker rm -f {name} >/dev/null")


def assert_converged(lab1: Lab1, events: list[dict[str, object]], greeting: str) -> None:
    containers = lab1.deploy.containers(HOST)
    assert lab1.aside not in containers, "nothing is left aside"
    web = containers[lab1.web]
    assert web["running"] and web["health"] == "healthy", web
    assert f"GREETING={greeting}" in web["env"]  # type: ignore[operator]
    records = lab1.deploy.records()
    record = records[f"{lab1.web}@{HOST}"]
    assert record["meta"] == {"greeting": greeting} and record["image_id"] == web["image"]
    # registered only once the container step (which waits for health) had ended
    ends = [e for e in events if e["event"] == "step_end" and e["host"] == HOST]
    container_end = next(e for e in ends if e["step"] == f"container {lab1.web}")
    service_start = next(e for e in events if e["event"] == "step_start"
                         and e["host"] == HOST and e["step"] == f"service {lab1.web}")
    assert container_end["status"] in ("ok", "changed"), container_end
    assert float(str(service_start["time"])) >= float(str(container_end["time"]))


@pytest.fixture
def lab1(deploy: Deploy) -> Lab1:
    """lab1 with the new version's labels learnt (deployed once, then the old version)."""
    machine = Lab1(deploy)
    machine.run(NEW)
    machine.new_labels = machine.labels(machine.web)
    machine.run(OLD)
    return machine


def _old_aside_new_absent(lab1: Lab1) -> None:
    lab1.set_aside()


def _half_created_new_beside_old(lab1: Lab1) -> None:
    lab1.set_aside()
    lab1.make(lab1.web, lab1.new_labels, start=False)


def _new_healthy_old_still_aside(lab1: Lab1) -> None:
    lab1.set_aside()
    lab1.make(lab1.web, lab1.new_labels)
    lab1.sh(f"until [ \"$(docker inspect --format '{{{{.State.Health.Status}}}}' "
            f"{lab1.web})\" = healthy ]; do sleep 0.2; done")


def _new_starting_old_aside(lab1: Lab1) -> None:
    lab1.set_aside()
    # its health check fails 5 times first (1 s apart): still starting when play looks
    lab1.make(lab1.web, lab1.new_labels, health_retries=30,
              health="n=$(cat /tmp/n 2>/dev/null || echo 0); echo $((n + 1)) > /tmp/n; "
                     "[ $n -ge 5 ]")


def _new_unhealthy_old_aside(lab1: Lab1) -> None:
    lab1.set_aside()
    lab1.make(lab1.web, lab1.new_labels, health="false", health_retries=1)
    lab1.sh(f"until [ \"$(docker inspect --format '{{{{.State.Health.Status}}}}' "
            f"{lab1.web})\" = unhealthy ]; do sleep 0.2; done")


def _new_exited_old_aside(lab1: Lab1) -> None:
    lab1.set_aside()
    lab1.make(lab1.web, lab1.new_labels, command="true", health=None)
    lab1.sh(f"docker wait {lab1.web} >/dev/null")


def _half_created_no_aside(lab1: Lab1) -> None:
    lab1.remove(lab1.web)
    lab1.make(lab1.web, lab1.new_labels, start=False)


def _stopped_not_renamed(lab1: Lab1) -> None:
    lab1.sh(f"docker stop -t 1 {lab1.web} >/dev/null")


def _stale_aside_beside_another_spec(lab1: Lab1) -> None:
    lab1.make(lab1.aside, {"play.managed": "true", "play.name": lab1.web,
                           "play.spec-hash": "stale"}, start=False)


def _desired_aside_beside_another_spec(lab1: Lab1) -> None:
    lab1.make(lab1.aside, lab1.new_labels, start=False)


STATES: dict[str, Callable[[Lab1], None]] = {
    "old aside, new absent": _old_aside_new_absent,
    "old aside, new half-created": _half_created_new_beside_old,
    "old aside, new running healthy": _new_healthy_old_still_aside,
    "old aside, new still starting": _new_starting_old_aside,
    "old aside, new unhealthy": _new_unhealthy_old_aside,
    "old aside, new exited": _new_exited_old_aside,
    "no aside, new half-created": _half_created_no_aside,
    "old stopped, not yet renamed": _stopped_not_renamed,
    "another spec serving, a stale container aside": _stale_aside_beside_another_spec,
    "another spec serving, the desired one aside": _desired_aside_beside_another_spec,
}


@pytest.mark.parametrize("make_state", STATES.values(), ids=STATES.keys())
def test_a_rerun_converges_from_each_interrupted_swap_state(
        lab1: Lab1, make_state: Callable[[Lab1], None]) -> None:
    make_state(lab1)
    events = lab1.run(NEW)
    assert_converged(lab1, events, NEW)


def test_only_the_aside_left_and_it_is_the_wanted_version_is_renamed_back(lab1: Lab1) -> None:
    before = lab1.deploy.web(HOST)
    assert before is not None
    lab1.set_aside()
    events = lab1.run(OLD)
    assert_converged(lab1, events, OLD)
    after = lab1.deploy.web(HOST)
    assert after is not None and after["id"] == before["id"], "the same container, put back"
