"""pyinfra: `server.shell` for command tasks, `docker.container` for containers,
`--parallel` = hosts, `-y` (run without its change-detection pass and prompt), and
`--serial` for the rolling update."""

from __future__ import annotations

import json
from pathlib import Path

from bench.scenarios import Phase, Workload
from bench.tools import Invocation, Target
from bench.venvs import venv_bin


def _inventory(target: Target) -> str:
    data = {"ssh_user": target.user, "ssh_key": str(target.key),
            "ssh_known_hosts_file": str(target.known_hosts),
            "ssh_strict_host_key_checking": "yes"}
    # pyinfra takes a group only as a list of names or (name, data) tuples, never lists
    hosts = [(address, data) for address in target.addresses]
    return f"lab = {hosts!r}\n"


def _deploy(workload: Workload, phase: Phase) -> str:
    if workload.kind == "commands":
        return ("from pyinfra.operations import server\n\n"
                f"for i, command in enumerate({json.dumps(workload.commands())}, start=1):\n"
                "    server.shell(name=f'task {i}', commands=[command])\n")
    # pyinfra's spec diff ignores the image, so an update must say force=True (recreate)
    return ("from pyinfra.operations import docker\n\n"
            f"for name in {json.dumps(workload.container_names())}:\n"
            f"    docker.container(name=name, container=name, image={phase.image!r},\n"
            "                     networks=['host'], present=True, start=True,\n"
            f"                     force={phase.replaces!r})\n")


class Pyinfra:
    name = "pyinfra"

    def supports(self, workload: Workload) -> bool:
        return workload.kind != "startup"

    def invocation(self, target: Target, workload: Workload, phase: Phase,
                   workdir: Path) -> Invocation:
        home = workdir / "pyinfra"
        home.mkdir(parents=True, exist_ok=True)
        (home / "inventory.py").write_text(_inventory(target))
        deploy = home / f"deploy_{workload.kind}_{workload.count}_{phase.name.replace('-', '_')}.py"
        deploy.write_text(_deploy(workload, phase))
        argv = [str(venv_bin("pyinfra", "pyinfra")), str(home / "inventory.py"), str(deploy),
                "-y", "--parallel", str(workload.forks)]
        if phase.is_rolling:
            argv.append("--serial")
        return Invocation(argv)
