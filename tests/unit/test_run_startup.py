"""What a run does before its first step: it imports only what the playbook needs, and
it starts connecting to the first hosts while it is still planning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from engine.connection import ConnectionSettings
from engine.connection.pool import EarlyConnections
from engine.errors import InputError
from engine.inventory import Inventory, load_inventory
from engine.run import prepare
from engine.run_options import RunOptions

ROOT = Path(__file__).parent.parent.parent
RUN = ROOT / "tests" / "data" / "run"

# Heavy or optional modules a tasks-only run without templates has no use for (nor, with
# nothing vaulted and no vault password, for Ansible Vault)
NOT_NEEDED = ("jinja2", "invoke", "rich", "etcd3gw", "requests", "paramiko",
              "engine.containers", "engine.lab", "engine.output.graph", "engine.output.live",
              "engine.vault")

# modules loaded from a file: not play's stand-in for invoke (engine/connection/__init__.py)
PROBE = """
import json, sys
from engine.cli import main
status = main(sys.argv[1:])
loaded = [name for name, module in sys.modules.items() if vars(module).get("__file__")]
print(json.dumps({"status": status, "modules": sorted(loaded)}))
"""


def test_a_tasks_only_run_imports_only_what_it_uses(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    one: {connection: local}\n"
                         "    two: {connection: local}\n"
                         f"  vars:\n    registry: {{root: {tmp_path / 'registry'}}}\n")
    result = subprocess.run([sys.executable, "-c", PROBE, str(RUN / "commands.yml"),
                             "-i", str(inventory)], capture_output=True, text=True, cwd=ROOT,
                            timeout=60, check=False)
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["status"] == 0, result.stdout + result.stderr
    assert not [name for name in report["modules"]
                if any(name == needless or name.startswith(f"{needless}.")
                       for needless in NOT_NEEDED)]


def _probe(script: str, *arguments: str) -> dict[str, Any]:
    env = {name: value for name, value in os.environ.items()
           if name != "ANSIBLE_VAULT_PASSWORD_FILE"}
    result = subprocess.run([sys.executable, "-c", script, *arguments], capture_output=True,
                            text=True, cwd=ROOT, timeout=60, check=False, env=env)
    report: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return report


def test_version_imports_no_vault() -> None:
    version = PROBE.replace("status = main(sys.argv[1:])", """try:
    main(sys.argv[1:])
except SystemExit as exit:
    status = exit.code""")
    report = _probe(version, "--version")
    assert report["status"] == 0
    assert "engine.vault" not in report["modules"]


def test_a_command_that_met_the_vault_leaves_no_password_to_the_next() -> None:
    # the first command imports engine.vault (a password given, an encrypted inventory);
    # the second, in the same process, gives none, so it cannot decrypt the file; and
    # neither leaves a plaintext behind it
    twice = PROBE.replace("status = main(sys.argv[1:])", """first = main(sys.argv[1:])
from engine import vault
status = [first, main(sys.argv[1:5]), len(vault.revealed())]""")
    inventory = str(ROOT / "tests" / "data" / "vault" / "encrypted-inventory.yml")
    password = str(ROOT / "tests" / "data" / "vault" / "password.txt")
    dev = str(ROOT / "tests" / "data" / "vault" / "dev-password.txt")
    report = _probe(twice, "inventory", "-i", inventory, "--list",
                    "--vault-password-file", password, "--vault-id", f"dev@{dev}")
    assert report["status"] == [0, 4, 0]
    assert "engine.vault" in report["modules"]


class Recorder(EarlyConnections):
    def __init__(self) -> None:
        super().__init__()
        self.hosts: list[str] = []

    def start(self, settings: Iterable[ConnectionSettings]) -> None:
        self.hosts += [one.host for one in settings]


def early_hosts(tmp_path: Path, playbook: str, forks: int) -> list[str]:
    (tmp_path / "hosts.ini").write_text(
        "[all]\nf address=127.0.0.9\na connection=local\nc address=127.0.0.9\n"
        "b address=127.0.0.9 host_key_policy=accept-new\nd address=127.0.0.9\n"
        "e address=127.0.0.9 connect_timeout=-1\n[nobody]\n")

    def load(sources: Iterable[str]) -> Inventory:
        return load_inventory([tmp_path / "hosts.ini"])

    recorder = Recorder()
    # e's vars are exit 4: the connections start before that check refuses the run
    with pytest.raises(InputError, match="host 'e': connect_timeout"):
        prepare(RunOptions(playbook=str(RUN / playbook), forks=forks), load, recorder)
    return recorder.hosts


def test_the_first_batch_starts_connecting_while_the_run_plans(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAY_SSH_CONFIG", str(tmp_path / "no_ssh_config"))
    # the first batch of `serial: 3` is f, a, c (inventory order), started in name order;
    # not a (local) nor b (accept-new writes known_hosts) nor e (its vars are an exit 4)
    assert early_hosts(tmp_path, "rolling.yml", forks=50) == ["c", "f"]
    assert early_hosts(tmp_path, "commands.yml", forks=50) == ["c", "d", "f"]
    assert early_hosts(tmp_path, "commands.yml", forks=3) == ["c"]
