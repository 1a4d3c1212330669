"""One e2e test's deployment of tests/data/e2e/containers.yml on the 3-host lab: its own
container names, port and file registry, and how to read back what it left on the hosts;
and the shipped demo (playbooks/deploy.yml) that the healing and zero-downtime tests run.

Shared by the container, fault and concurrency tests; the `deploy` fixture in conftest.py
makes one per test and removes its containers afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from lab_client import E2E_DATA, ROOT, Lab, play, private_registry

from bench.zero_downtime import DEMO as DEMO_PLAYBOOK
from bench.zero_downtime import DEMO_CONTAINERS

IMAGE = "play-lab/busybox:latest"
DEMO = str(DEMO_PLAYBOOK)   # the shipped demo, and its containers on the lab
HEALTHY = "wget -qO- http://127.0.0.1:{port}/ >/dev/null || test -d /srv"
PLAYBOOK = E2E_DATA / "containers.yml"


@dataclass
class Deploy:
    lab: Lab
    prefix: str
    port: int
    inventory: Path
    registry_root: Path

    def arguments(self, *extra: str, greeting: str = "hello", image: str = IMAGE,
                  health: str = "true") -> list[str]:
        return [str(PLAYBOOK), "-i", str(self.inventory), "--json",
                "-e", f"p={self.prefix}", "-e", f"web_port={self.port}",
                "-e", f"greeting={greeting}", "-e", f"image={image}",
                "-e", json.dumps({"health_cmd": health}), *extra]

    def run(self, *extra: str, greeting: str = "hello", image: str = IMAGE,
            health: str = "true", timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return play(*self.arguments(*extra, greeting=greeting, image=image, health=health),
                    timeout=timeout)

    def popen(self, *extra: str, health: str = "true",
              greeting: str = "hello") -> subprocess.Popen[str]:
        """The same run in the background, its --json events on a pipe."""
        return subprocess.Popen(
            [sys.executable, "-m", "engine",
             *self.arguments(*extra, greeting=greeting, health=health)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    @property
    def service(self) -> str:
        return f"{self.prefix}-web"

    def records(self) -> dict[str, dict[str, object]]:
        """instance id -> record, read straight from the file registry."""
        folder = self.registry_root / self.service
        if not folder.is_dir():
            return {}
        return {path.stem: json.loads(path.read_text()) for path in folder.glob("*.json")}

    def locks(self) -> list[Path]:
        return list((self.registry_root / ".locks").glob("*"))

    def containers(self, host: str) -> dict[str, dict[str, object]]:
        """name -> {id, running, env, image, health} of this test's containers on a host."""
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

    def web(self, host: str) -> dict[str, object] | None:
        return self.containers(host).get(self.service)


def new_deploy(lab: Lab, tmp_path: Path) -> Deploy:
    prefix = f"t{uuid.uuid4().hex[:6]}"
    inventory, registry_root = private_registry(lab, tmp_path)
    port = 20000 + int(uuid.uuid4().hex[:4], 16) % 20000
    return Deploy(lab, prefix, port, inventory, registry_root)


def remove_deploy(deploy: Deploy) -> None:
    for host in deploy.lab.hosts:
        deploy.lab.sh(host, f"docker ps -aq --filter name={deploy.prefix}- | xargs -r docker rm -f")


def remove_demo(lab: Lab) -> None:
    """What the demo left on every host: its containers and its files."""
    for host in lab.hosts:
        lab.run(host, "docker", "rm", "-f", *DEMO_CONTAINERS)
        lab.sh(host, "rm -rf /srv/store /srv/api /srv/gateway")
