"""`play registry check` on the lab: records whose container is gone or not play's are
named and, with --fix, removed; the real ones stay; an unreachable host's records are
never removed."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from lab_client import E2E_DATA, Lab, play, private_registry

from engine.registry import Instance

pytestmark = pytest.mark.lab

IMAGE = "play-lab/busybox:latest"


@dataclass
class Fleet:
    """One test's deployment of containers.yml: its own names, port and file registry
    (on this machine, under the test's tmp_path)."""

    lab: Lab
    prefix: str
    port: int
    inventory: Path
    registry_root: Path

    def deploy(self) -> subprocess.CompletedProcess[str]:
        return play(str(E2E_DATA / "containers.yml"), "-i", str(self.inventory),
                    "-e", f"p={self.prefix}", "-e", f"web_port={self.port}",
                    "-e", "greeting=hello", "-e", f"image={IMAGE}",
                    "-e", json.dumps({"health_cmd": "true"}), timeout=240)

    def check(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return play("registry", "check", "-i", str(self.inventory), *extra)

    def records(self) -> set[str]:
        return {path.stem for path in self.registry_root.glob("*/*.json")
                if not path.parent.name.startswith(".")}

    def plant(self, service: str, host: str, container: str) -> str:
        """A record written by hand, as a crashed run or a person could leave it."""
        real = json.loads(next(self.registry_root.glob(f"{self.prefix}-web/*.json"))
                          .read_text())
        record = Instance(service=service, instance=f"{service}@{host}", host=host,
                          address="10.250.0.12", port=self.port, tags=(), meta={},
                          container=container, image_id=real["image_id"],
                          registered_at="2024-05-01T12:00:00Z")
        path = self.registry_root / service / f"{record.instance}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(record.to_json())
        return record.instance


@pytest.fixture
def fleet(lab: Lab, tmp_path: Path) -> Iterator[Fleet]:
    prefix = f"c{uuid.uuid4().hex[:6]}"
    inventory, registry_root = private_registry(lab, tmp_path)
    port = 20000 + int(uuid.uuid4().hex[:4], 16) % 20000
    yield Fleet(lab, prefix, port, inventory, registry_root)
    for host in lab.hosts:
        lab.sh(host, f"docker ps -aq --filter name={prefix}- | xargs -r docker rm -f")


def by_instance(stdout: str) -> dict[str, dict[str, object]]:
    return {record["instance"]: record for record in json.loads(stdout)["records"]}


def test_check_names_planted_records_and_fix_removes_only_them(fleet: Fleet) -> None:
    deployed = fleet.deploy()
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    real = {f"{fleet.prefix}-web@lab{i}" for i in (1, 2, 3)}
    assert fleet.records() == real
    ghost = fleet.plant(f"{fleet.prefix}-ghost", "lab2", f"{fleet.prefix}-ghost")
    unmanaged = f"{fleet.prefix}-unmanaged"
    assert fleet.lab.run(fleet.lab.host("lab1"), "docker", "run", "-d", "--name", unmanaged,
                         "--network", "host", IMAGE, "sleep", "100000").returncode == 0
    foreign = fleet.plant(f"{fleet.prefix}-tool", "lab1", unmanaged)

    table = fleet.check()
    assert table.returncode == 6, table.stdout + table.stderr
    lines = table.stdout.splitlines()
    assert any(ghost in line and "stale" in line for line in lines), table.stdout
    assert lines[-1] == "5 records, 2 stale (0 removed), 0 unverified"

    found = fleet.check("--json")
    assert found.returncode == 6, found.stdout + found.stderr
    records = by_instance(found.stdout)
    assert records[ghost]["state"] == "stale"
    assert records[ghost]["why"] == f"no container {fleet.prefix}-ghost on lab2"
    assert records[foreign]["why"] == f"container {unmanaged} is not a container play manages"
    assert {name for name, r in records.items() if r["state"] == "ok"} == real

    fixed = fleet.check("--fix")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert fixed.stdout.splitlines()[-1] == "5 records, 2 stale (2 removed), 0 unverified"
    assert fleet.records() == real
    assert not list((fleet.registry_root / ".locks").glob("*")), "lock left behind"

    again = fleet.check()
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.splitlines()[-1] == "3 records, 0 stale (0 removed), 0 unverified"


def test_a_container_removed_by_hand_is_stale_until_the_next_converge(fleet: Fleet) -> None:
    assert fleet.deploy().returncode == 0
    lab3 = fleet.lab.host("lab3")
    assert fleet.lab.run(lab3, "docker", "rm", "-f", f"{fleet.prefix}-web").returncode == 0

    found = fleet.check(f"{fleet.prefix}-web", "--json")
    assert found.returncode == 6, found.stdout + found.stderr
    assert by_instance(found.stdout)[f"{fleet.prefix}-web@lab3"]["state"] == "stale"

    assert fleet.check("--fix").returncode == 0
    assert fleet.records() == {f"{fleet.prefix}-web@lab{i}" for i in (1, 2)}
    redeployed = fleet.deploy()
    assert redeployed.returncode == 0, redeployed.stdout + redeployed.stderr
    assert fleet.records() == {f"{fleet.prefix}-web@lab{i}" for i in (1, 2, 3)}
    assert fleet.check().returncode == 0


def test_records_of_an_unreachable_host_are_unverified_and_kept(lab: Lab,
                                                                tmp_path: Path) -> None:
    registry_root = tmp_path / "registry"
    document = yaml.safe_load(lab.inventory.read_text())
    lab_group = document["all"]["children"]["lab"]
    lab_group["vars"]["registry"] = {"root": str(registry_root)}
    # a real lab address on a port nothing listens on: refused at once, like a down sshd
    lab_group["hosts"]["lab9"] = {"address": lab.host("lab1").address, "port": 1,
                                  "connect_timeout": 3}
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump(document))
    record = Instance(service="away", instance="away@lab9", host="lab9",
                      address="10.250.0.19", port=8080, tags=(), meta={}, container="away",
                      image_id="sha256:" + "ab" * 32, registered_at="2024-05-01T12:00:00Z")
    path = registry_root / "away" / "away@lab9.json"
    path.parent.mkdir(parents=True)
    path.write_text(record.to_json())

    for extra in ((), ("--fix",)):
        result = play("registry", "check", "-i", str(inventory), "--json", *extra)
        assert result.returncode == 3, result.stdout + result.stderr
        verdict = by_instance(result.stdout)["away@lab9"]
        assert verdict["state"] == "unverified" and not verdict["removed"]
        assert str(verdict["why"]).startswith("host unreachable (")
        assert path.exists()
