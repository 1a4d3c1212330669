"""Scenario (g), zero downtime: the shipped demo (HAProxy in front of two api replicas)
under load from bench/load.py while play rolls it to a new version, rolls a broken
release back, and heals a killed replica. Prints requests sent, failed, the rate and
p50/p99 for each; tests/e2e/test_zero_downtime.py asserts the same (and loses a host).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import yaml

from bench.load import Background, LoadResult, report
from bench.tools import Target
from bench.tools.play import play_executable
from engine.lab.layout import NGINX_IMAGE

DEMO = Path(__file__).parent.parent / "playbooks" / "deploy.yml"
ROLLING_REQUESTS = 20_000
BROKEN_IMAGE = "play-lab/api:broken"
# On an api host: the demo's nginx image with /health answering 503, committed as
# BROKEN_IMAGE: a release that starts and serves, and fails its health check.
MAKE_BROKEN = (
    "docker rm -f api-broken >/dev/null 2>&1; "
    f"docker run --name api-broken {NGINX_IMAGE} "
    "sed -i 's/return 200 /return 503 /' /etc/nginx/nginx.conf && "
    f"docker commit --change 'CMD [\"nginx\"]' api-broken {BROKEN_IMAGE} >/dev/null && "
    "docker rm api-broken >/dev/null")
DEMO_CONTAINERS = ("store", "api", "gateway")


class _Demo:
    def __init__(self, target: Target, workdir: Path) -> None:
        self.target = target
        document = yaml.safe_load(target.inventory.read_text())
        document["all"]["children"]["lab"]["vars"]["registry"] = {
            "root": str(workdir / "zero-downtime-registry")}
        self.inventory = workdir / "zero-downtime.yml"
        self.inventory.write_text(yaml.safe_dump(document))
        self.url = f"http://{target.addresses[0]}:8000/"

    def run(self, *extra: str) -> int:
        return subprocess.run([*play_executable(), str(DEMO), "-i", str(self.inventory),
                               *extra], capture_output=True, check=False,
                              timeout=300).returncode

    def ssh(self, host: int, script: str) -> None:
        subprocess.run(["ssh", "-i", str(self.target.key), "-o",
                        f"UserKnownHostsFile={self.target.known_hosts}", "-o", "BatchMode=yes",
                        f"{self.target.user}@{self.target.addresses[host]}", script],
                       capture_output=True, check=False, timeout=120)

    def under_load(self, label: str, *extra: str, at_least: int = 0,
                   before: str | None = None) -> LoadResult:
        with Background(self.url, requests=200_000, max_seconds=120) as load:
            time.sleep(0.5)
            if before is not None:
                self.ssh(1, before)
                time.sleep(2.5)  # HAProxy's health check window
            status = self.run("-e", "api_version=2", *extra)
            result = load.finish(at_least)
        print(f"  g {report(result, label)} (play exit {status})", file=sys.stderr, flush=True)
        return result


def run_zero_downtime(target: Target, workdir: Path) -> list[str]:
    """The figures, one line per phase, for the closing notes."""
    demo = _Demo(target, workdir)
    lines = []
    try:
        if demo.run("-e", "api_version=1") != 0:
            return ["g zero-downtime: the demo did not deploy"]
        phases: list[tuple[str, tuple[str, ...], int, str | None]] = [
            ("rolling update to v2", (), ROLLING_REQUESTS, None)]
        for host in (1, 2):
            demo.ssh(host, MAKE_BROKEN)
        phases.append(("broken release, rolled back", ("-e", f"api_image={BROKEN_IMAGE}"), 0,
                       None))
        phases.append(("api on lab2 killed, then a converge", (), 0, "docker kill api"))
        for label, extra, at_least, before in phases:
            result = demo.under_load(label, *extra, at_least=at_least, before=before)
            lines.append(f"g {result.summary(label)}")
    finally:
        for host in range(len(target.addresses)):
            demo.ssh(host, f"docker rm -f {' '.join(DEMO_CONTAINERS)}; "
                           f"docker rmi -f {BROKEN_IMAGE}; rm -rf /srv/store /srv/api /srv/gateway")
    return lines
