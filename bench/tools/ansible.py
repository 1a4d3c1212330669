"""ansible-playbook as a tuned user runs it: pipelining, no fact gathering, forks = hosts,
community.docker.docker_container on a target interpreter that has the Docker SDK.

Its ssh ControlPersist masters would outlive a run and speed up the next one; each run
gets a fresh control path and the bench stops the masters after it (see measure.py).
"""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

from bench.scenarios import Phase, Workload
from bench.tools import Invocation, Target
from bench.venvs import target_python, venv_bin


def _inventory(target: Target) -> str:
    hosts = "".join(f"{name} ansible_host={address}\n"
                    for name, address in zip(target.names, target.addresses, strict=True))
    ssh_args = shlex.join(["-o", f"UserKnownHostsFile={target.known_hosts}",
                           "-o", "StrictHostKeyChecking=yes"])
    return (f"[lab]\n{hosts}\n[lab:vars]\nansible_user={target.user}\n"
            f"ansible_ssh_private_key_file={target.key}\n"
            f"ansible_python_interpreter={target_python()}\n"
            f"ansible_ssh_common_args='{ssh_args}'\n")


def _config(workdir: Path) -> str:
    return ("[defaults]\nhost_key_checking = True\nretry_files_enabled = False\n"
            f"local_tmp = {workdir / 'tmp'}\n"
            "[ssh_connection]\npipelining = True\n"
            f"control_path_dir = {workdir / 'cp'}\n")


def _playbook(workload: Workload, phase: Phase) -> str:
    head = "- hosts: lab\n  gather_facts: false\n"
    if phase.is_rolling:
        head += "  serial: 1\n"
    if workload.kind == "commands":
        tasks = "".join(f"    - name: task {i}\n      command: {json.dumps(command)}\n"
                        for i, command in enumerate(workload.commands(), start=1))
        return f"{head}  tasks:\n{tasks}"
    names = json.dumps(workload.container_names())
    return (f"{head}  tasks:\n    - name: containers\n"
            "      community.docker.docker_container:\n"
            "        name: \"{{ item }}\"\n"
            f"        image: {json.dumps(phase.image)}\n"
            "        network_mode: host\n        state: started\n"
            f"      loop: {names}\n")


class Ansible:
    name = "ansible"

    def supports(self, workload: Workload) -> bool:
        return workload.kind != "startup"

    def invocation(self, target: Target, workload: Workload, phase: Phase,
                   workdir: Path) -> Invocation:
        home = workdir / "ansible"
        shutil.rmtree(home / "cp", ignore_errors=True)  # no master survives into this run
        (home / "tmp").mkdir(parents=True, exist_ok=True)
        (home / "cp").mkdir(parents=True, exist_ok=True)
        (home / "inventory.ini").write_text(_inventory(target))
        (home / "ansible.cfg").write_text(_config(home))
        playbook = home / f"{workload.kind}-{workload.count}-{phase.name}.yml"
        playbook.write_text(_playbook(workload, phase))
        argv = [str(venv_bin("ansible", "ansible-playbook")), "-i", str(home / "inventory.ini"),
                "--forks", str(workload.forks), str(playbook)]
        return Invocation(argv, {"ANSIBLE_CONFIG": str(home / "ansible.cfg"),
                                 "ANSIBLE_HOME": str(home)})
