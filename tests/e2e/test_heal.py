"""Healing converges and placement on the lab, with the shipped demo (playbooks/deploy.yml):
a killed container comes back, a lost host's replica moves and its records leave after the
registry's grace, the gateway follows, and a host that comes back does not double anything.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from deploys import DEMO, remove_demo
from lab_client import E2E_DATA, LAB_HOSTS, Lab, json_events, kill_sshd, play, private_registry

from engine.lab import lab_up

pytestmark = pytest.mark.lab


@dataclass
class Demo:
    lab: Lab
    inventory: Path
    registry_root: Path

    def run(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return play(DEMO, "-i", str(self.inventory), "--json", *extra, timeout=300)

    def records(self, service: str) -> dict[str, dict[str, object]]:
        """host -> record of a service, read straight from the file registry."""
        folder = self.registry_root / service
        records = [json.loads(path.read_text()) for path in folder.glob("*.json")]
        return {str(record["host"]): record for record in records}

    def running(self, name: str) -> list[str]:
        """The lab hosts where a container of that name runs."""
        return [host.name for host in self.lab.hosts
                if self.lab.run(host, "docker", "inspect", "-f", "{{.State.Running}}",
                                name).stdout.strip() == "true"]

    def servers(self) -> list[str]:
        """address:port of each api server in the gateway's HAProxy configuration."""
        config = self.lab.run(self.lab.host("lab1"), "cat", "/srv/gateway/haproxy.cfg").stdout
        return sorted(line.split()[2] for line in config.splitlines()
                      if line.strip().startswith("server "))

    def ask_gateway(self) -> str:
        gateway = self.lab.host("lab1").address
        with urllib.request.urlopen(f"http://{gateway}:8000/", timeout=15) as reply:
            return str(reply.read().decode())


@pytest.fixture
def demo(lab: Lab, tmp_path: Path) -> Iterator[Demo]:
    inventory, registry_root = private_registry(lab, tmp_path)
    yield Demo(lab, inventory, registry_root)
    remove_demo(lab)


def step_ends(stdout: str) -> dict[tuple[str, str], dict[str, object]]:
    return {(str(event["host"]), str(event["step"])): event
            for event in json_events(stdout) if event["event"] == "step_end"}


def test_the_demo_places_two_api_replicas_on_the_least_loaded_hosts(demo: Demo) -> None:
    first = demo.run()
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr
    # lab1 already runs the store when the api is placed: lab2 and lab3 are less loaded
    assert sorted(demo.records("api")) == ["lab2", "lab3"]
    assert demo.running("api") == ["lab2", "lab3"]
    assert "api" in demo.ask_gateway()
    explained = play("graph", "--explain", DEMO, "-i", str(demo.inventory))
    assert explained.returncode == 0, explained.stderr
    assert "container api [api tier]: 2 replicas over lab1, lab2, lab3" in explained.stdout
    assert "lab2: 1 - keeps 1 running healthy replica" in explained.stdout
    again = demo.run()
    assert again.returncode == 0
    assert all(event["status"] == "ok" for event in step_ends(again.stdout).values()), \
        "a second converge of a healthy fleet changes nothing"


def test_a_killed_container_comes_back_and_is_registered_again_once_healthy(
        demo: Demo) -> None:
    cold = demo.run()
    assert cold.returncode == 0, cold.stdout[-3000:] + cold.stderr
    before = demo.records("api")["lab2"]
    demo.lab.run(demo.lab.host("lab2"), "docker", "kill", "api")
    stale = play("registry", "check", "api", "-i", str(demo.inventory))
    assert stale.returncode == 6 and "container api is exited" in stale.stdout, stale.stdout

    converge = demo.run()
    assert converge.returncode == 0, converge.stdout[-3000:]
    ends = step_ends(converge.stdout)
    assert "start (it is exited)" in str(ends[("lab2", "container api")]["msg"])
    # the record was taken out when the container was found dead, and the service step
    # put it back after the container step had waited for it to be healthy
    assert ends[("lab2", "service api")]["status"] == "changed"
    assert demo.records("api")["lab2"]["registered_at"] >= before["registered_at"]
    assert demo.running("api") == ["lab2", "lab3"]
    assert play("registry", "check", "-i", str(demo.inventory)).returncode == 0


def test_a_lost_host_moves_its_replica_and_leaves_the_registry_after_the_grace(
        demo: Demo, lab: Lab) -> None:
    cold = demo.run()
    assert cold.returncode == 0, cold.stdout[-3000:] + cold.stderr
    assert sorted(demo.records("api")) == ["lab2", "lab3"]
    kill_sshd("lab3")
    try:
        first = demo.run()
        assert first.returncode == 3, first.stdout[-3000:]
        records = demo.records("api")
        assert sorted(records) == ["lab1", "lab2", "lab3"]   # lab3 kept: 1 converge of 2
        assert records["lab3"]["missed"] == 1
        assert demo.running("api") == ["lab1", "lab2"]   # lab3 does not answer ssh
        # a record kept for its grace is not served: out of the backend list at once, and
        # the gateway reloaded without it
        assert demo.servers() == [f"{lab.host('lab1').address}:8080",
                                  f"{lab.host('lab2').address}:8080"]
        assert any("kept api@lab3 for its grace" in str(event["msg"])
                   and "sent SIGUSR2 to container gateway on lab1" in str(event["msg"])
                   for event in step_ends(first.stdout).values()), first.stdout[-3000:]
        assert "api" in demo.ask_gateway()

        second = demo.run()
        assert second.returncode == 3, second.stdout[-3000:]
        assert sorted(demo.records("api")) == ["lab1", "lab2"]
        assert any("removed api@lab3: lab3 unreachable for 2 converges" in str(event["msg"])
                   for event in step_ends(second.stdout).values()), second.stdout[-3000:]
        # the backend list had left lab3 already: nothing to render, nothing reloaded
        assert step_ends(second.stdout)[("lab1", "task gateway config")]["status"] == "ok"
        assert demo.servers() == [f"{lab.host('lab1').address}:8080",
                                  f"{lab.host('lab2').address}:8080"]
        assert "api" in demo.ask_gateway()
    finally:
        lab_up(LAB_HOSTS, lab.inventory)   # lab3's sshd starts again; its containers stayed

    back = demo.run()
    assert back.returncode == 0, back.stdout[-3000:]
    # sticky: the moved replica stays on lab1; lab3's old one is the extra and goes
    assert sorted(demo.records("api")) == ["lab1", "lab2"]
    assert demo.running("api") == ["lab1", "lab2"]


def test_no_room_for_the_replicas_is_exit_2_saying_what_is_missing_where(lab: Lab) -> None:
    prefix = f"t{uuid.uuid4().hex[:6]}"
    result = play(str(E2E_DATA / "replicas.yml"), "-i", str(lab.inventory), "-e", f"p={prefix}",
                  "-e", "image=play-lab/busybox:latest", "-e", "memory=100t")
    assert result.returncode == 2, result.stdout
    assert "2 of 2 replicas could not be placed, no host has room for them: lab1: no room: " \
           "needs 102400 GiB memory" in result.stdout
    for host in lab.hosts:
        assert not lab.run(host, "docker", "ps", "-aq", "--filter", f"name={prefix}").stdout


def test_a_dependent_waits_for_a_healthy_replica_and_is_skipped_when_none_is(lab: Lab) -> None:
    prefix = f"t{uuid.uuid4().hex[:6]}"
    arguments = [str(E2E_DATA / "replicas_dependent.yml"), "-i", str(lab.inventory), "--json",
                 "-e", f"p={prefix}", "-e", "image=play-lab/busybox:latest"]
    try:
        unhealthy = play(*arguments, "-e", "health=false", timeout=300)
        assert unhealthy.returncode == 2, unhealthy.stdout + unhealthy.stderr
        ends = step_ends(unhealthy.stdout)
        replicas = [e["status"] for (_, step), e in ends.items()
                    if step == f"container {prefix}-rep"]
        assert replicas.count("failed") == 2   # on the two hosts chosen; the third is ok
        user = ends[("lab1", f"container {prefix}-user")]
        assert user["status"] == "skipped"
        assert user["msg"] == f"no replica of container {prefix}-rep is healthy"
        assert not lab.run(lab.host("lab1"), "docker", "ps", "-aq", "--filter",
                           f"name={prefix}-user").stdout
        healthy = play(*arguments, "-e", "health=true", timeout=300)
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr
        assert step_ends(healthy.stdout)[("lab1", f"container {prefix}-user")]["status"] \
            == "changed"
    finally:
        for host in lab.hosts:
            ids = lab.run(host, "docker", "ps", "-aq", "--filter", f"name={prefix}").stdout
            if ids.split():
                lab.run(host, "docker", "rm", "-f", *ids.split())
