"""The command line as a user meets it: exit statuses and messages (no network)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent.parent
DATA = ROOT / "tests" / "data"
HOSTS = str(DATA / "playbooks" / "hosts.yml")


def play(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine", *arguments], capture_output=True,
                          text=True, cwd=ROOT, timeout=60, check=False)


def test_version_prints_and_exits_0() -> None:
    result = play("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("play ")


def test_typo_in_a_key_is_exit_4_with_file_line_and_suggestion() -> None:
    result = play("graph", str(DATA / "cli" / "typo.yml"), "-i", HOSTS)
    assert result.returncode == 4
    assert f"{DATA / 'cli' / 'typo.yml'}:6: unknown key 'restrat'" in result.stderr
    assert "did you mean 'restart'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_cycle_is_exit_4() -> None:
    result = play("graph", str(DATA / "playbooks" / "cycle.yml"), "-i", HOSTS)
    assert result.returncode == 4
    assert "cycle" in result.stderr and "container ca" in result.stderr


def test_undefined_variable_is_exit_4() -> None:
    result = play("graph", str(DATA / "cli" / "undefined.yml"), "-i", HOSTS)
    assert result.returncode == 4
    assert "undefined variable 'app_verison'" in result.stderr
    assert "did you mean 'app_version'?" in result.stderr


def test_unknown_option_is_exit_4() -> None:
    result = play("graph", str(DATA / "cli" / "typo.yml"), "--frobnicate")
    assert result.returncode == 4
    assert "--frobnicate" in result.stderr


def test_graph_text_lists_levels_and_hosts() -> None:
    result = play("graph", str(DATA / "playbooks" / "valid.yml"), "-i", HOSTS)
    assert result.returncode == 0, result.stderr
    assert "level 1" in result.stdout
    assert "container db" in result.stdout and "on db1" in result.stdout
    assert "batches web1, web2 | web3, web4" in result.stdout


def test_graph_json_has_nodes_edges_and_batches() -> None:
    result = play("graph", str(DATA / "playbooks" / "valid.yml"), "-i", HOSTS,
                  "--format", "json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert len(plan["nodes"]) == 26
    assert {"from": "db1|0/container/db", "to": "db1|0/service/db", "kind": "needs"} in \
        plan["edges"]
    assert plan["plays"][1]["batches"] == [["web1", "web2"], ["web3", "web4"]]


def test_graph_dot_is_rendered_by_graphviz(tmp_path: Path) -> None:
    result = play("graph", str(DATA / "playbooks" / "valid.yml"), "-i", HOSTS,
                  "--format", "dot")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("digraph play {")
    rendered = subprocess.run(["dot", "-Tsvg"], input=result.stdout, capture_output=True,
                              text=True, check=False)
    assert rendered.returncode == 0, rendered.stderr
    assert "<svg" in rendered.stdout


def test_graph_of_the_demo_against_the_shipped_lab_inventory() -> None:
    result = play("graph", "playbooks/deploy.yml", "-i", "inventory/lab.yml")
    assert result.returncode == 0, result.stderr
    assert "container api" in result.stdout and "lab3" in result.stdout


def test_graph_refuses_bad_connection_vars_as_the_run_does(tmp_path: Path) -> None:
    # play graph is the pre-flight (--syntax-check): it runs the checks the run does
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[web]\nweb1 address=127.0.0.9 host_key_policy=yolo\n")
    playbook = tmp_path / "site.yml"
    playbook.write_text("- name: web\n  hosts: web\n  tasks:\n"
                        "    - name: hello\n      command: echo hello\n")
    result = play("graph", str(playbook), "-i", str(inventory))
    assert result.returncode == 4, result.stdout + result.stderr
    assert f"{inventory}:2:" in result.stderr and "host_key_policy" in result.stderr
    assert not result.stdout
