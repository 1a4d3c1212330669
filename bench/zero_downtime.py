"""Scenario (g), zero downtime: the shipped demo (HAProxy in front of two api replicas)
under load from bench/load.py while play rolls it to a new version, rolls back a release
that fails its health check, heals a killed replica, and loses a whole host. Prints
requests sent, failed, the rate and p50/p99 for each; tests/e2e/test_zero_downtime.py
asserts the same, with these parts.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from bench.load import Background, LoadResult, report
from bench.tools import Target
from bench.tools.play import play_executable
from engine.lab.layout import NGINX_IMAGE, LabPaths, host_index, state_dir
from engine.lab.proc import processes_in_netns
from engine.lab.state import load_state

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
# The load's bounds: a run ends the load (below the count, at thousands a second); the
# time is the ceiling if it does not.
LOAD_REQUESTS, LOAD_SECONDS = 2_000_000, 150


def kill_host(name: str) -> None:
    """The whole lab host dies, as a machine losing power: the process the lab started to
    hold it is killed by PID, and with it the host's PID namespace and every process in
    it (sshd, dockerd, containerd, each container's). Only its address stays (the
    namespace's link), refusing connections; `play lab up` makes the host anew, empty.
    Returns once nothing runs in the host's network namespace any more."""
    paths = LabPaths(state_dir())
    record = load_state(paths.state_file).hosts[host_index(name)]
    assert record.init is not None, f"{name} was not started by the lab"
    record.init.signal(signal.SIGKILL)
    netns = paths.host(host_index(name)).netns_file
    for _ in range(100):   # the kernel ends the namespace's processes at once; reaping lags
        if not processes_in_netns(netns):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{name}: processes outlived the host: {processes_in_netns(netns)}")


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
        with Background(self.url, LOAD_REQUESTS, LOAD_SECONDS) as load:
            time.sleep(0.5)
            if before is not None:
                self.ssh(1, before)
                time.sleep(2.5)  # HAProxy's health check window
            status = self.run("-e", "api_version=2", *extra)
            result = load.finish(at_least)
        print(f"  g {report(result, label)} (play exit {status})", file=sys.stderr, flush=True)
        return result

    def lose_host(self, label: str) -> LoadResult:
        with Background(self.url, LOAD_REQUESTS, LOAD_SECONDS) as load:
            time.sleep(2)
            kill_host(self.target.names[2])
            time.sleep(4)
            result = load.finish()
        print(f"  g {report(result, label)}", file=sys.stderr, flush=True)
        return result


def run_zero_downtime(target: Target, workdir: Path) -> list[str]:
    """The figures, one line per phase, for the closing notes. The last phases lose the
    third host; the next scenario's `play lab up` makes it again."""
    demo = _Demo(target, workdir)
    lines = []
    try:
        if demo.run("-e", "api_version=1") != 0:
            return ["g zero-downtime: the demo did not deploy"]
        for host in (1, 2):
            demo.ssh(host, MAKE_BROKEN)
        phases: list[tuple[str, tuple[str, ...], int, str | None]] = [
            ("1. rolling update to v2", (), ROLLING_REQUESTS, None),
            ("2. release failing its health check, rolled back",
             ("-e", f"api_image={BROKEN_IMAGE}"), 0, None),
            ("4. api on lab2 killed, then a converge", (), 0, "docker kill api")]
        for label, extra, at_least, before in phases:
            result = demo.under_load(label, *extra, at_least=at_least, before=before)
            lines.append(f"g {result.summary(label)}")
        lost = demo.lose_host(f"3. {target.names[2]} lost (the whole host killed)")
        lines.append(f"g {lost.summary(f'3. {target.names[2]} lost')}")
        healed = demo.under_load(f"3. then a converge without {target.names[2]}")
        lines.append(f"g {healed.summary(f'3. then a converge without {target.names[2]}')}")
    finally:
        for host in range(len(target.addresses)):
            demo.ssh(host, f"docker rm -f {' '.join(DEMO_CONTAINERS)}; "
                           f"docker rmi -f {BROKEN_IMAGE}; rm -rf /srv/store /srv/api /srv/gateway")
    return lines
