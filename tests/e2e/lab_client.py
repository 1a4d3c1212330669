"""How the end-to-end tests reach lab hosts: as the inventory's user (deploy), with the
OpenSSH client.

Shared by every e2e test module; the `lab` fixture in conftest.py returns a `Lab`.
"""

from __future__ import annotations

import shlex
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from engine.lab.layout import LabPaths, state_dir
from engine.lab.proc import Process, processes_in_netns
from engine.lab.state import load_state

LAB_HOSTS = 3  # the session lab's size


@dataclass(frozen=True)
class LabMachine:
    name: str
    address: str


@dataclass(frozen=True)
class Lab:
    hosts: tuple[LabMachine, ...]
    key: Path
    known_hosts: Path
    inventory: Path
    user: str = "deploy"

    def host(self, name: str) -> LabMachine:
        return next(host for host in self.hosts if host.name == name)

    def ssh_argv(self, host: LabMachine, command: str) -> list[str]:
        return [
            "ssh", "-i", str(self.key),
            "-o", f"UserKnownHostsFile={self.known_hosts}",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes",
            "-o", "ConnectTimeout=10",
            f"{self.user}@{host.address}", command,
        ]  # fmt: skip

    def sh(self, host: LabMachine, script: str) -> subprocess.CompletedProcess[str]:
        """Run a shell command line on a lab host as the lab's user; never raises on failure."""
        return subprocess.run(
            self.ssh_argv(host, script), capture_output=True, text=True, timeout=120
        )

    def run(self, host: LabMachine, *argv: str) -> subprocess.CompletedProcess[str]:
        """Run one command on a lab host, every argument quoted."""
        return self.sh(host, shlex.join(argv))


def lab_from_inventory(inventory: Path) -> Lab:
    """The lab as its inventory describes it: what `play` itself will read."""
    group = yaml.safe_load(inventory.read_text())["all"]["children"]["lab"]
    return Lab(
        hosts=tuple(LabMachine(name, v["address"]) for name, v in group["hosts"].items()),
        key=Path(group["vars"]["ssh_key"]),
        known_hosts=Path(group["vars"]["known_hosts"]),
        inventory=inventory,
        user=group["vars"]["user"],
    )


def private_registry(lab: Lab, folder: Path) -> tuple[Path, Path]:
    """The lab inventory with a file registry of its own under `folder`, so that a test's
    records and locks are its own: returns (inventory, registry root)."""
    registry_root = folder / "registry"
    document = yaml.safe_load(lab.inventory.read_text())
    document["all"]["children"]["lab"]["vars"]["registry"] = {"root": str(registry_root)}
    inventory = folder / "hosts.yml"
    inventory.write_text(yaml.safe_dump(document))
    return inventory, registry_root


ROOT = Path(__file__).parent.parent.parent
E2E_DATA = ROOT / "tests" / "data" / "e2e"


def play(*arguments: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run the `play` command as a user would (without a TTY: plain lines)."""
    import sys

    return subprocess.run([sys.executable, "-m", "engine", *arguments], capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout, check=False)


def json_events(stdout: str) -> list[dict[str, object]]:
    import json

    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


# -- faults: lab daemons killed by the PIDs the lab recorded, never by name patterns --


def lab_daemons(host: str) -> tuple[Process, Process]:
    """The host's dockerd and sshd, as the lab recorded them."""
    record = load_state(LabPaths(state_dir()).state_file).hosts[int(host.removeprefix("lab"))]
    assert record.dockerd is not None and record.sshd is not None
    return record.dockerd, record.sshd


def kill_sshd(host: str) -> None:
    """The host's sshd dies: its listener and every session it forked (the processes named
    sshd in the host's network namespace), so a run's connection breaks. `lab_up` again
    starts it anew."""
    _, listener = lab_daemons(host)
    listener.signal(signal.SIGKILL)
    netns = LabPaths(state_dir()).host(int(host.removeprefix("lab"))).netns_file
    for process in processes_in_netns(netns):
        try:
            name = Path(f"/proc/{process.pid}/comm").read_text().strip()
        except OSError:
            continue
        if name == "sshd":
            process.signal(signal.SIGKILL)


def kill_dockerd(host: str) -> None:
    dockerd, _ = lab_daemons(host)
    dockerd.signal(signal.SIGKILL)


def recording_cat(folder: Path, record: Path) -> Path:
    """A folder holding a `cat` that appends the mode and name of the file it writes into
    (its stdout) to `record`, then writes it: put it first on PATH."""
    folder.mkdir()
    (folder / "cat").write_text(
        "#!/bin/sh\nprintf '%s %s\\n' \"$(stat -L -c %a /proc/$$/fd/1)\" "
        "\"$(readlink /proc/$$/fd/1)\" >> " + shlex.quote(str(record)) +
        "\nexec /bin/cat \"$@\"\n")
    (folder / "cat").chmod(0o755)
    return folder
