"""Containers and the registry on the lab: reconcile, roll, roll back, lock, interrupt."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from lab_client import E2E_DATA, ROOT, Lab, json_events, play

pytestmark = pytest.mark.lab

IMAGE = "play-lab/busybox:latest"
HEALTHY = "wget -qO- http://127.0.0.1:{port}/ >/dev/null || test -d /srv"


@dataclass
class Deploy:
    """One test's deployment: its own container names, port and file registry."""

    lab: Lab
    prefix: str
    port: int
    inventory: Path
    registry_root: Path

    def run(self, *extra: str, greeting: str = "hello", image: str = IMAGE,
            health: str = "true", timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return play(str(E2E_DATA / "containers.yml"), "-i", str(self.inventory), "--json",
                    "-e", f"p={self.prefix}", "-e", f"web_port={self.port}",
                    "-e", f"greeting={greeting}", "-e", f"image={image}",
                    "-e", json.dumps({"health_cmd": health}), *extra, timeout=timeout)

    def popen(self, *extra: str, health: str = "true",
              greeting: str = "hello") -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "engine", str(E2E_DATA / "containers.yml"), "-i",
             str(self.inventory), "--json", "-e", f"p={self.prefix}", "-e", f"web_port={self.port}",
             "-e", f"greeting={greeting}", "-e", f"image={IMAGE}",
             "-e", json.dumps({"health_cmd": health}), *extra],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def records(self) -> dict[str, dict[str, object]]:
        service = self.registry_root / f"{self.prefix}-web"
        if not service.is_dir():
            return {}
        return {path.stem: json.loads(path.read_text()) for path in service.glob("*.json")}

    def containers(self, host: str) -> dict[str, dict[str, object]]:
        """name -> {id, running, env, health} of this test's containers on a host."""
        result = self.lab.sh(self.lab.host(host),
                             f"docker ps -aq --filter name={self.prefix}- | xargs -r docker "
                             "inspect")
        found = {}
        for item in json.loads(result.stdout or "[]"):
            found[item["Name"].lstrip("/")] = {
                "id": item["Id"], "running": item["State"]["Running"],
                "env": item["Config"]["Env"], "image": item["Image"],
                "health": (item["State"].get("Health") or {}).get("Status")}
        return found


@pytest.fixture
def deploy(lab: Lab, tmp_path: Path) -> Iterator[Deploy]:
    prefix = f"t{uuid.uuid4().hex[:6]}"
    registry_root = tmp_path / "registry"
    document = yaml.safe_load(lab.inventory.read_text())
    document["all"]["children"]["lab"]["vars"]["registry"] = {"root": str(registry_root)}
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump(document))
    port = 20000 + int(uuid.uuid4().hex[:4], 16) % 20000
    yield Deploy(lab, prefix, port, inventory, registry_root)
    for host in lab.hosts:
        lab.sh(host, f"docker ps -aq --filter name={prefix}- | xargs -r docker rm -f")


def step_ends(stdout: str) -> list[dict[str, object]]:
    return [event for event in json_events(stdout) if event["event"] == "step_end"]


def test_cold_deploy_then_a_noop_with_one_inspect_per_host(deploy: Deploy) -> None:
    cold = deploy.run()
    assert cold.returncode == 0, cold.stdout + cold.stderr
    for host in ("lab1", "lab2", "lab3"):
        containers = deploy.containers(host)
        assert set(containers) == {f"{deploy.prefix}-web", f"{deploy.prefix}-side"}
        assert all(container["running"] for container in containers.values())
    assert set(deploy.records()) == {f"{deploy.prefix}-web@lab{i}" for i in (1, 2, 3)}
    again = deploy.run()
    assert again.returncode == 0
    assert not [e for e in step_ends(again.stdout) if e["changed"]]
    recap = json_events(again.stdout)[-1]
    assert recap["commands"] == {"lab1": 1, "lab2": 1, "lab3": 1}


def test_changing_one_env_var_recreates_only_that_container(deploy: Deploy) -> None:
    assert deploy.run().returncode == 0
    before = {host: deploy.containers(host) for host in ("lab1", "lab2", "lab3")}
    changed = deploy.run(greeting="bonjour")
    assert changed.returncode == 0, changed.stdout
    for host in ("lab1", "lab2", "lab3"):
        after = deploy.containers(host)
        web, side = f"{deploy.prefix}-web", f"{deploy.prefix}-side"
        assert after[web]["id"] != before[host][web]["id"]
        assert "GREETING=bonjour" in after[web]["env"]
        assert after[side]["id"] == before[host][side]["id"]
    greetings = {str(record["meta"]) for record in deploy.records().values()}
    assert greetings == {str({"greeting": "bonjour"})}


def test_update_rolls_host_by_host(deploy: Deploy) -> None:
    assert deploy.run().returncode == 0
    rolled = deploy.run(greeting="v2")
    ends = [e for e in step_ends(rolled.stdout)
            if e["step"] == f"container {deploy.prefix}-web" and e["changed"]]
    assert [e["host"] for e in ends] == ["lab1", "lab2", "lab3"]
    starts = {e["host"]: e["time"] for e in json_events(rolled.stdout)
              if e["event"] == "step_start" and e["step"] == f"container {deploy.prefix}-web"}
    assert starts["lab2"] >= ends[0]["time"] and starts["lab3"] >= ends[1]["time"]  # type: ignore[operator]


def test_unhealthy_version_rolls_back_on_the_first_host_and_stops(deploy: Deploy) -> None:
    assert deploy.run().returncode == 0
    before = deploy.containers("lab1")[f"{deploy.prefix}-web"]
    records_before = deploy.records()
    bad = deploy.run(greeting="broken", health="false")
    assert bad.returncode == 2, bad.stdout
    failed = [e for e in step_ends(bad.stdout) if e["status"] == "failed"]
    assert [e["host"] for e in failed] == ["lab1"]
    assert "rolled back" in str(failed[0]["msg"])
    after = deploy.containers("lab1")[f"{deploy.prefix}-web"]
    assert after["id"] == before["id"] and after["running"]
    assert "GREETING=hello" in after["env"]
    for host in ("lab2", "lab3"):  # the rollout stopped before them
        assert "GREETING=hello" in deploy.containers(host)[f"{deploy.prefix}-web"]["env"]
    assert set(deploy.records()) == set(records_before)


def test_check_on_a_changed_spec_changes_nothing(deploy: Deploy) -> None:
    assert deploy.run().returncode == 0
    before = deploy.containers("lab2")
    check = deploy.run("--check", greeting="changed")
    assert check.returncode == 6, check.stdout
    assert any(e["changed"] for e in step_ends(check.stdout))
    assert deploy.containers("lab2") == before


def test_unmanaged_containers_are_never_touched(deploy: Deploy) -> None:
    host = deploy.lab.host("lab1")
    name = f"{deploy.prefix}-unmanaged"
    deploy.lab.run(host, "docker", "run", "-d", "--name", name, "--network", "host", IMAGE,
                   "sleep", "100000")
    assert deploy.run().returncode == 0
    assert deploy.containers("lab1")[name]["running"]


def test_two_runs_at_once_one_waits_or_exits_5(deploy: Deploy) -> None:
    first = deploy.popen(greeting="one")
    time.sleep(0.5)
    second = deploy.run("--lock-timeout", "1", greeting="two")
    first.communicate(timeout=240)
    assert first.returncode == 0
    assert second.returncode in (0, 5), second.stdout
    if second.returncode == 5:
        assert "lock" in second.stdout


def test_sigint_mid_rollout_releases_the_lock_and_registers_only_healthy(
        deploy: Deploy) -> None:
    assert deploy.run().returncode == 0
    process = deploy.popen(greeting="interrupted")
    time.sleep(2.5)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=120)
    assert process.returncode == 130
    assert not list((deploy.registry_root / ".locks").glob("*")), "lock left behind"
    for record in deploy.records().values():
        container = deploy.containers(str(record["host"]))[f"{deploy.prefix}-web"]
        assert container["running"] and container["health"] == "healthy"
    assert deploy.run(greeting="interrupted").returncode == 0


def test_sigkill_mid_rollout_then_a_rerun_converges(deploy: Deploy) -> None:
    assert deploy.run().returncode == 0
    process = deploy.popen(greeting="killed")
    time.sleep(2.0)
    process.kill()
    process.communicate(timeout=60)
    rerun = deploy.run("--lock-timeout", "30", greeting="killed")
    assert rerun.returncode == 0, rerun.stdout
    assert set(deploy.records()) == {f"{deploy.prefix}-web@lab{i}" for i in (1, 2, 3)}
    for host in ("lab1", "lab2", "lab3"):
        names = set(deploy.containers(host))
        assert names == {f"{deploy.prefix}-web", f"{deploy.prefix}-side"}
        assert "GREETING=killed" in deploy.containers(host)[f"{deploy.prefix}-web"]["env"]


def test_file_and_etcd_backends_hold_the_same_records(deploy: Deploy, etcd: str,
                                                        tmp_path: Path) -> None:
    from engine.connection.local import LocalConnection
    from engine.registry import RegistryConfig, open_registry

    assert deploy.run().returncode == 0
    file_records = deploy.records()
    prefix = f"/play-test-{deploy.prefix}"
    document = yaml.safe_load(deploy.inventory.read_text())
    document["all"]["children"]["lab"]["vars"]["registry"] = {
        "backend": "etcd", "endpoints": [etcd], "prefix": prefix}
    etcd_inventory = tmp_path / "etcd-hosts.yml"
    etcd_inventory.write_text(yaml.safe_dump(document))
    deploy.inventory = etcd_inventory
    result = deploy.run()  # the containers are there: only the registrations are new
    assert result.returncode == 0, result.stdout
    registry = open_registry(RegistryConfig(backend="etcd", endpoints=(etcd,), prefix=prefix),
                             lambda host: LocalConnection(host))
    try:
        etcd_records = {i.instance: json.loads(i.to_json())
                        for i in registry.instances(f"{deploy.prefix}-web")}
    finally:
        registry.close()

    def comparable(records: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
        return {key: {k: v for k, v in record.items() if k != "registered_at"}
                for key, record in records.items()}

    assert len(etcd_records) == 3
    assert comparable(etcd_records) == comparable(file_records)


def test_a_changed_file_that_notifies_a_container_restarts_it(deploy: Deploy) -> None:
    directory = f"/srv/{deploy.prefix}"
    host = deploy.lab.host("lab1")

    def run(page: str) -> subprocess.CompletedProcess[str]:
        return play(str(E2E_DATA / "notify.yml"), "-i", str(deploy.inventory), "--json",
                    "-e", f"p={deploy.prefix}", "-e", f"dir={directory}",
                    "-e", f"web_port={deploy.port}", "-e", f"page={page}")

    def started_at() -> str:
        return deploy.lab.run(host, "docker", "inspect", "--format", "{{.State.StartedAt}}",
                              f"{deploy.prefix}-server").stdout

    try:
        assert run("one").returncode == 0
        first = started_at()
        unchanged = run("one")
        assert not [e for e in step_ends(unchanged.stdout) if e["changed"]]
        assert started_at() == first
        changed = run("two")
        restarted = [e for e in step_ends(changed.stdout)
                     if e["step"] == f"container {deploy.prefix}-server"]
        assert restarted[0]["status"] == "changed" and "notified" in str(restarted[0]["msg"])
        assert started_at() != first
    finally:
        deploy.lab.run(host, "rm", "-rf", directory)
