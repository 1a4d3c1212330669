"""Zero downtime, measured: the shipped demo (playbooks/deploy.yml, HAProxy in front of two
api replicas) under load from bench/load.py while play rolls, rolls back, loses a host and
heals. Each scenario prints its figures (run with -s to see them).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from deploys import DEMO, remove_demo
from lab_client import LAB_HOSTS, Lab, json_events, play, private_registry

from bench.load import Background, LoadResult, report, run_load
from bench.zero_downtime import BROKEN_IMAGE, LOAD_REQUESTS, LOAD_SECONDS, MAKE_BROKEN, kill_host
from engine.lab import lab_up

pytestmark = pytest.mark.lab

ROLLING_REQUESTS = 20_000     # the floor for the rolling update
CLIENTS = 8


@dataclass
class Demo:
    lab: Lab
    inventory: Path
    registry_root: Path
    version: str = "2"   # what every run deploys, unless it says -e api_version itself

    @property
    def url(self) -> str:
        return f"http://{self.lab.host('lab1').address}:8000/"

    def run(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return play(DEMO, "-i", str(self.inventory), "--json", "-e",
                    f"api_version={self.version}", *extra, timeout=300)

    def records(self, service: str) -> list[str]:
        folder = self.registry_root / service
        return sorted(str(json.loads(path.read_text())["host"]) for path in folder.glob("*.json"))

    def servers(self) -> list[str]:
        """The hosts of the api servers in the gateway's HAProxy configuration."""
        config = self.lab.run(self.lab.host("lab1"), "cat", "/srv/gateway/haproxy.cfg").stdout
        return sorted(line.split()[1] for line in config.splitlines()
                      if line.strip().startswith("server "))

    def probe(self) -> LoadResult:
        return run_load(self.url, requests=400, max_seconds=20, clients=4)

    def check_window(self) -> float:
        """Seconds HAProxy takes to put a dead server out of rotation at most: its check
        interval times its fall count, as the gateway's configuration says."""
        config = self.lab.run(self.lab.host("lab1"), "cat", "/srv/gateway/haproxy.cfg").stdout
        words = next(line.split() for line in config.splitlines()
                     if line.split()[:1] == ["default-server"])
        interval, fall = words[words.index("inter") + 1], words[words.index("fall") + 1]
        assert interval.endswith("ms"), interval
        return int(interval.removesuffix("ms")) / 1000 * int(fall)


def step_messages(stdout: str) -> dict[tuple[str, str], str]:
    return {(str(event["host"]), str(event["step"])): str(event["msg"])
            for event in json_events(stdout) if event["event"] == "step_end"}


def under_load(demo: Demo, label: str, *extra: str, at_least: int = 0,
               ) -> tuple[subprocess.CompletedProcess[str], LoadResult]:
    """Run the demo while the load runs (until the run ended and `at_least` were sent)."""
    with Background(demo.url, LOAD_REQUESTS, LOAD_SECONDS, clients=CLIENTS) as load:
        time.sleep(0.5)  # the load is up before play starts
        run = demo.run(*extra)
        result = load.finish(at_least)
    print("\n" + report(result, label))
    return run, result


@pytest.fixture(scope="module")
def demo(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    inventory, registry_root = private_registry(lab, tmp_path_factory.mktemp("zero-downtime"))
    deployed = Demo(lab, inventory, registry_root)
    cold = deployed.run("-e", "api_version=1")
    assert cold.returncode == 0, cold.stdout[-3000:] + cold.stderr
    assert deployed.servers() == ["lab2", "lab3"]
    yield deployed
    remove_demo(lab)


def test_a_rolling_update_under_load_drops_no_request(demo: Demo) -> None:
    run, load = under_load(demo, "rolling update to v2", at_least=ROLLING_REQUESTS)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    assert load.sent >= ROLLING_REQUESTS
    assert load.failed == 0, report(load)
    messages = step_messages(run.stdout)
    for host in ("lab2", "lab3"):
        # deregistered, the gateway reloaded without it, then the drain: in that order
        assert "sent SIGUSR2 to container gateway on lab1" in messages[(host, "container api")]
        assert "sent SIGUSR2 to container gateway on lab1" in messages[(host, "service api")]
    after = demo.probe()
    assert after.failed == 0 and set(after.bodies) == {"api 2 on lab2", "api 2 on lab3"}, \
        report(after)


def broken_image(demo: Demo) -> str:
    """A release that starts and serves but answers its health endpoint with 503, on the
    api hosts."""
    for host in ("lab2", "lab3"):
        made = demo.lab.sh(demo.lab.host(host), MAKE_BROKEN)
        assert made.returncode == 0, made.stderr
    return BROKEN_IMAGE


def test_a_release_failing_its_health_check_is_rolled_back_under_load_without_a_failed_request(
        demo: Demo) -> None:
    image = broken_image(demo)
    try:
        run, load = under_load(demo, "release failing its health check, rolled back",
                               "-e", f"api_image={image}")
    finally:
        for host in ("lab2", "lab3"):
            demo.lab.run(demo.lab.host(host), "docker", "rmi", "-f", image)
    assert run.returncode == 2, run.stdout[-3000:]
    messages = step_messages(run.stdout)
    rolled = [host for host in ("lab2", "lab3")
              if "rolled back" in messages.get((host, "container api"), "")]
    assert len(rolled) == 1, messages   # max_fail_percentage 0: the rollout stopped there
    # it ran, and its health check said no: not a release that exited
    assert "(running unhealthy; last health check:" in messages[(rolled[0], "container api")]
    assert "503" in messages[(rolled[0], "container api")]
    assert load.failed == 0, report(load)
    assert set(load.bodies) <= {"api 2 on lab2", "api 2 on lab3"}, report(load)
    assert demo.records("api") == ["lab2", "lab3"] and demo.servers() == ["lab2", "lab3"]
    after = demo.probe()
    assert after.failed == 0 and set(after.bodies) == {"api 2 on lab2", "api 2 on lab3"}


def test_a_lost_api_host_fails_requests_only_inside_the_health_check_window(
        demo: Demo, lab: Lab) -> None:
    window = demo.check_window()
    try:
        with Background(demo.url, LOAD_REQUESTS, max_seconds=60, clients=CLIENTS) as load:
            time.sleep(2)
            kill_host("lab3")      # sshd, dockerd and the api container's nginx with it
            time.sleep(4)
            lost = load.finish()
        print("\n" + report(lost, "api host lab3 lost"))
        print(f"failed inside the health-check window ({window:.1f} s): {lost.failed}, "
              f"at most {lost.rate * window:.0f} at that rate")
        assert lost.failed <= lost.rate * window, report(lost)

        converge, healed = under_load(demo, "converge without lab3")
        assert converge.returncode == 3, converge.stdout[-3000:]   # lab3 unreachable
        assert healed.failed == 0, report(healed)
        # the lost replica moved to lab1; lab3's record is kept for the registry's grace,
        # marked missed, and is out of the gateway's backend list
        assert demo.records("api") == ["lab1", "lab2", "lab3"]
        assert demo.servers() == ["lab1", "lab2"]
        after = demo.probe()
        assert after.failed == 0, report(after)
        assert set(after.bodies) == {"api 2 on lab1", "api 2 on lab2"}, report(after)
    finally:
        lab_up(LAB_HOSTS, lab.inventory)   # lab3 is made again, an empty host
    back = demo.run()
    assert back.returncode == 0, back.stdout[-3000:]
    # the replica stays on lab1 (sticky); lab3's record left with its empty host
    assert demo.records("api") == ["lab1", "lab2"] and demo.servers() == ["lab1", "lab2"]


def test_a_killed_replica_leaves_the_backends_and_returns_once_healthy(demo: Demo) -> None:
    host = demo.records("api")[-1]
    window = demo.check_window()
    with Background(demo.url, LOAD_REQUESTS, max_seconds=60, clients=CLIENTS) as load:
        time.sleep(1)
        demo.lab.run(demo.lab.host(host), "docker", "kill", "api")
        time.sleep(window + 0.5)
        run = demo.run()
        result = load.finish()
    print("\n" + report(result, f"api on {host} killed, then a converge"))
    assert run.returncode == 0, run.stdout[-3000:]
    messages = step_messages(run.stdout)
    # the dead replica's record left and the gateway reloaded without it before the
    # restart; the service step registered it again once healthy, and the gateway followed
    assert "start (it is exited)" in messages[(host, "container api")]
    assert "sent SIGUSR2 to container gateway on lab1" in messages[(host, "container api")]
    assert "sent SIGUSR2 to container gateway on lab1" in messages[(host, "service api")]
    assert host in demo.servers()
    assert result.failed <= result.rate * window, report(result)
    after = demo.probe()
    assert after.failed == 0 and any(host in body for body in after.bodies), report(after)
