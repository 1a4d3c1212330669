"""`play` itself: the console script of the Python that runs the bench."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.scenarios import Phase, Workload
from bench.tools import Invocation, Target

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "playbooks" / "deploy.yml"


def play_executable() -> list[str]:
    script = Path(sys.executable).parent / "play"
    return [str(script)] if script.exists() else [sys.executable, "-m", "engine"]


def _commands_playbook(workload: Workload) -> str:
    tasks = "".join(f"    - name: task {i}\n      command: {json.dumps(command)}\n"
                    for i, command in enumerate(workload.commands(), start=1))
    return f"- name: bench commands\n  hosts: lab\n  tasks:\n{tasks}"


def _containers_playbook(workload: Workload, phase: Phase) -> str:
    serial = "  serial: 1\n" if phase.is_rolling else ""
    containers = "".join(f"    - name: {name}\n      image: {json.dumps(phase.image)}\n"
                         "      network: host\n" for name in workload.container_names())
    return f"- name: bench containers\n  hosts: lab\n{serial}  containers:\n{containers}"


class Play:
    name = "play"

    def supports(self, workload: Workload) -> bool:
        return True

    def invocation(self, target: Target, workload: Workload, phase: Phase,
                   workdir: Path) -> Invocation:
        play = play_executable()
        if workload.kind == "startup":
            if phase.name == "version":
                return Invocation([*play, "--version"])
            return Invocation([*play, "graph", str(DEMO), "-i", str(target.inventory)])
        if workload.kind == "commands":
            text = _commands_playbook(workload)
        else:
            text = _containers_playbook(workload, phase)
        playbook = workdir / "play" / f"{workload.kind}-{workload.count}-{phase.name}.yml"
        playbook.parent.mkdir(parents=True, exist_ok=True)
        playbook.write_text(text)
        return Invocation([*play, str(playbook), "-i", str(target.inventory),
                           "--forks", str(workload.forks)])


class PythonStartup:
    """`python -c pass`: the floor of any Python command's start-up."""

    name = "python -c pass"

    def supports(self, workload: Workload) -> bool:
        return workload.kind == "startup"

    def invocation(self, target: Target, workload: Workload, phase: Phase,
                   workdir: Path) -> Invocation:
        return Invocation([sys.executable, "-c", "pass"])
