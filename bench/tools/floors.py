"""The two floors: the least SSH work that does the job, with the least docker CLI work
for containers (one batched `docker inspect` per host for a no-op, one `docker run` per
container for a cold deploy, `docker rm -f` + `docker run` per container for an update).

- paramiko: one transport per host, TCP_NODELAY (paramiko_floor.py, its own process);
- stack: the same on play's stack, fabric.Connection per host (stack_floor.py);
- ControlMaster: OpenSSH, one master per host, one `ssh` client per command (a sh script).
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from bench.scenarios import Phase, Workload
from bench.tools import Invocation, Target

PARALLEL_CHANNELS = 8  # as play's per-host limit


def remote_commands(workload: Workload, phase: Phase) -> list[str]:
    """The command lines each host runs, in order."""
    if workload.kind == "commands":
        return workload.commands()
    names = workload.container_names()
    if not (phase.creates or phase.replaces):
        return [shlex.join(["docker", "inspect", *names, phase.image]) + " >/dev/null"]
    lines = []
    for name in names:
        run = shlex.join(["docker", "run", "-d", "--name", name, "--network", "host",
                          phase.image])
        lines.append(f"docker rm -f {shlex.quote(name)} >/dev/null && {run}"
                     if phase.replaces else run)
    return lines


def _parallel(workload: Workload) -> int:
    return PARALLEL_CHANNELS if workload.kind == "containers" else 1


class ParamikoFloor:
    name = "paramiko floor"
    script = "paramiko_floor.py"

    def supports(self, workload: Workload) -> bool:
        return workload.kind != "startup"

    def invocation(self, target: Target, workload: Workload, phase: Phase,
                   workdir: Path) -> Invocation:
        lines = remote_commands(workload, phase)
        spec = {"user": target.user, "key": str(target.key),
                "known_hosts": str(target.known_hosts), "parallel": _parallel(workload),
                "rolling": phase.is_rolling,
                "hosts": [{"address": address, "commands": lines}
                          for address in target.addresses]}
        stem = self.script.removesuffix(".py")
        path = workdir / "floors" / f"{stem}-{workload.kind}-{workload.count}-{phase.name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(spec))
        return Invocation([sys.executable, str(Path(__file__).with_name(self.script)),
                           str(path)])


class StackFloor(ParamikoFloor):
    """The same work on play's stack: fabric, networkx and yaml imported, hosts opened
    with fabric.Connection (stack_floor.py)."""

    name = "stack floor"
    script = "stack_floor.py"


_HOST_FUNCTION = """\
set -u
host() {  # address, file of command lines, channels at once
  ctl="$CTL_DIR/$1"
  ssh $SSH_OPTS -o ControlMaster=yes -o ControlPath="$ctl" -o ControlPersist=yes \\
      -fN "$SSH_USER@$1" || return 1
  xargs -d '\\n' -P "$3" -n 1 ssh $SSH_OPTS -o ControlPath="$ctl" "$SSH_USER@$1" \\
      < "$2" > /dev/null
  status=$?
  ssh -o ControlPath="$ctl" -O exit "$SSH_USER@$1" 2>/dev/null
  return $status
}
failed=0
"""


class ControlMasterFloor:
    name = "ControlMaster floor"

    def supports(self, workload: Workload) -> bool:
        return workload.kind != "startup"

    def invocation(self, target: Target, workload: Workload, phase: Phase,
                   workdir: Path) -> Invocation:
        home = workdir / "floors" / f"cm-{workload.kind}-{workload.count}-{phase.name}"
        home.mkdir(parents=True, exist_ok=True)
        commands = home / "commands"
        commands.write_text("".join(f"{line}\n" for line in remote_commands(workload, phase)))
        options = shlex.join(["-i", str(target.key), "-o", f"UserKnownHostsFile="
                              f"{target.known_hosts}", "-o", "StrictHostKeyChecking=yes",
                              "-o", "BatchMode=yes"])
        script = [f"SSH_OPTS={shlex.quote(options)}", f"SSH_USER={shlex.quote(target.user)}",
                  f"CTL_DIR={shlex.quote(str(home))}", _HOST_FUNCTION]
        calls = [f"host {address} {shlex.quote(str(commands))} {_parallel(workload)}"
                 for address in target.addresses]
        if phase.is_rolling:
            script += [f"{call} || failed=1" for call in calls]
        else:
            script += [f"{call} & pids=\"${{pids:-}} $!\"" for call in calls]
            script.append("for pid in $pids; do wait $pid || failed=1; done")
        script.append("exit $failed")
        path = home / "run.sh"
        path.write_text("\n".join(script) + "\n")
        return Invocation(["/bin/sh", str(path)])
