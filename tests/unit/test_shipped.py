"""The shipped playbooks and inventories say what works: their run lines pass every
check, the example inventory uses Ansible's names, bootstrap.yml targets `new` only."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parent.parent.parent
EXAMPLE = ROOT / "inventory" / "production.example.ini"
BOOTSTRAP = ROOT / "playbooks" / "bootstrap.yml"


def play(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine", *arguments], capture_output=True,
                          text=True, cwd=ROOT, timeout=60, check=False,
                          env={"PATH": "/usr/bin:/bin", "PLAY_SSH_CONFIG": "/nonexistent"})


def test_the_example_inventory_uses_ansibles_variable_names() -> None:
    names = set()
    section = ""
    for line in EXAMPLE.read_text().splitlines():
        if line.startswith("[") or not line.strip() or line.startswith("#"):
            section = line.strip() if line.startswith("[") else section
            continue
        pairs = [line] if section.endswith(":vars]") else line.split()[1:]
        names |= {pair.split("=", 1)[0] for pair in pairs}
    assert names == {"ansible_host", "ansible_user", "ansible_ssh_private_key_file",
                     "host_key_policy"}  # host_key_policy: play's own, which Ansible ignores


def test_bootstrap_targets_only_the_new_group_of_the_example_inventory() -> None:
    result = play(str(BOOTSTRAP), "-i", str(EXAMPLE), "-e", "deploy_key=ssh-ed25519 AAAA x",
                  "--list-hosts")
    assert result.returncode == 0, result.stderr
    assert "pattern: ['new']\n    hosts (1):\n      web4.example.com\n" in result.stdout
    assert "web1" not in result.stdout and "db1" not in result.stdout


RUN_LINES = [line for line in re.findall(r"^#\s+(play .*?)(?:\s{2,}#.*)?$",
                                         EXAMPLE.read_text(), re.MULTILINE)
             if "site.yml" not in line]  # site.yml: the user's own playbook, not shipped


def test_the_example_inventory_shows_how_to_bootstrap_and_inspect() -> None:
    assert [line.split()[1] for line in RUN_LINES] == ["inventory", "playbooks/bootstrap.yml"]


@pytest.mark.parametrize("line", RUN_LINES)
def test_every_run_line_of_the_example_inventory_passes_its_checks(line: str) -> None:
    words = line.replace("inventory/production.ini", str(EXAMPLE)).rstrip("\\").split()
    if words[1].endswith(".yml"):  # the rest of the line: -e deploy_key=..., on the next
        words += ["-e", "deploy_key=ssh-ed25519 AAAA x", "--syntax-check"]
    result = play(*words[1:])
    assert result.returncode == 0, result.stderr


def test_bootstraps_header_names_no_option_that_does_nothing() -> None:
    text = BOOTSTRAP.read_text()
    assert "-e user=" not in text
    assert "host_key_policy" in text and "accept-new" in text
    play_document = yaml.safe_load(text)
    packages = [task["package"] for task in play_document[0]["tasks"] if "package" in task]
    assert packages and all(package.get("update_cache") for package in packages)
