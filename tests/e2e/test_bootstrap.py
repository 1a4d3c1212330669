"""bootstrap.yml takes fresh servers to deployed ones, end to end.

The module re-ups the session lab as two fresh hosts (root by key, no Docker, no deploy
user: `play lab up --fresh`), bootstraps them as root from the lab's package mirror,
and gives the session its three Docker hosts back afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import yaml
from deploys import DEMO
from lab_client import LAB_HOSTS, ROOT, Lab, lab_from_inventory, play

from engine.lab import lab_up
from engine.lab.images import load_images
from engine.lab.layout import LabPaths, state_dir

pytestmark = pytest.mark.lab

FRESH_HOSTS = 2
BOOTSTRAP = str(ROOT / "playbooks" / "bootstrap.yml")


@dataclass(frozen=True)
class Fresh:
    """The fresh hosts, reached as root (their only login) until bootstrap made deploy's."""

    root: Lab
    deploy_inventory: Path
    registry_root: Path
    new_group: Path  # puts the fresh hosts in `new`, the group bootstrap.yml targets

    @property
    def deploy(self) -> Lab:
        return replace(self.root, user="deploy")

    def bootstrap(self) -> str:
        public_key = Path(f"{self.root.key}.pub").read_text().strip()
        done = play(BOOTSTRAP, "-i", str(self.root.inventory), "-i", str(self.new_group),
                    "-e", f"deploy_key={public_key}", timeout=600)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
        return done.stdout


@pytest.fixture(scope="module")
def fresh(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fresh]:
    folder = tmp_path_factory.mktemp("fresh")
    inventory = folder / "fresh.yml"
    try:
        lab_up(FRESH_HOSTS, inventory, has_docker=False, is_fresh=True)
        document = yaml.safe_load(inventory.read_text())
        group_vars = document["all"]["children"]["lab"]["vars"]
        assert group_vars["user"] == "root"
        group_vars["user"] = "deploy"
        group_vars["registry"] = {"root": str(folder / "registry")}
        deploy_inventory = folder / "deploy.yml"
        deploy_inventory.write_text(yaml.safe_dump(document))
        new_group = folder / "new.yml"
        new_group.write_text(yaml.safe_dump({"all": {"children": {"new": {"children": {
            "lab": None}}}}}))
        yield Fresh(lab_from_inventory(inventory), deploy_inventory, folder / "registry",
                    new_group)
    finally:
        lab_up(LAB_HOSTS, lab.inventory)


def recap(stdout: str, host: str) -> tuple[int, int, int]:
    line = next(line for line in stdout.splitlines() if line.startswith(f"{host} "))
    ok, changed, failed = (int(field) for field in line.split()[1:4])
    return ok, changed, failed


def test_fresh_hosts_are_bare_servers(fresh: Fresh) -> None:
    for host in fresh.root.hosts:
        found = fresh.root.sh(host, "id -un; hostname; command -v dockerd || echo no-docker; "
                                    "getent passwd deploy || echo no-deploy; "
                                    "test -e /var/lib/play || echo no-state-dir")
        assert found.stdout.split() == ["root", host.name, "no-docker", "no-deploy",
                                        "no-state-dir"], found.stderr
        assert fresh.deploy.sh(host, "true").returncode != 0


def test_bootstrap_makes_a_deployable_server_and_a_second_run_changes_nothing(
        fresh: Fresh) -> None:
    first = fresh.bootstrap()
    for host in fresh.root.hosts:
        assert recap(first, host.name)[1] > 0, first
    second = fresh.bootstrap()
    for host in fresh.root.hosts:
        assert recap(second, host.name)[1:] == (0, 0), second

    for host in fresh.root.hosts:
        settings = fresh.root.sh(host, "sshd -T")
        assert "passwordauthentication no" in settings.stdout.splitlines(), settings.stderr
        logged_in = fresh.deploy.sh(host, "id -un; docker info --format '{{.Name}}'")
        assert logged_in.stdout.split() == ["deploy", host.name], logged_in.stderr
        owners = fresh.root.sh(host, "stat -c %U /srv /var/lib/play")
        assert owners.stdout.split() == ["deploy", "deploy"], owners.stderr

    # The lab builds its images locally (no Docker Hub): it loads them as on any Docker host.
    load_images(LabPaths(state_dir()), FRESH_HOSTS)
    deployed = play(DEMO, "-i", str(fresh.deploy_inventory), timeout=600)
    assert deployed.returncode == 0, deployed.stdout[-4000:] + deployed.stderr[-2000:]
    registered = {
        path.parent.name: json.loads(path.read_text())["host"]
        for path in fresh.registry_root.glob("*/*.json")
    }
    assert set(registered) == {"store", "api", "gateway"}, registered
    again = play(DEMO, "-i", str(fresh.deploy_inventory), timeout=600)
    assert again.returncode == 0, again.stdout[-4000:]
    for host in fresh.root.hosts:
        assert recap(again.stdout, host.name)[1:] == (0, 0), again.stdout
