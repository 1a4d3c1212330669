"""The command line as a user meets it: exit statuses and messages (no network)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

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


# -- the command line as ansible-playbook users type it --

VALID = str(DATA / "playbooks" / "valid.yml")


def test_help_shows_the_subcommands_exit_statuses_examples_and_defaults() -> None:
    result = play("--help")
    assert result.returncode == 0
    usage = result.stdout.split("\n\n")[0]
    assert "{graph,inventory,lab,registry,report}" in usage and "PLAYBOOK" in usage
    assert "exit status:" in result.stdout and "130  interrupted" in result.stdout
    assert result.stdout.count("\n  play ") == 2  # the two examples
    assert "(default: 50)" in result.stdout and "(default: off)" in result.stdout


def test_every_option_of_every_command_has_a_help_string_and_shows_its_default() -> None:
    from engine.commands import graph, inventory, lab, registry, report, run_playbook

    parsers = [run_playbook.make_parser(), graph.make_parser(), inventory.make_parser(),
               report.make_parser()]
    for parser in (lab.make_parser(), registry.make_parser()):
        actions = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parsers += list(actions.choices.values())
    for parser in parsers:
        text = parser.format_help()
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._VersionAction,
                                   argparse._SubParsersAction)):
                continue
            assert action.help, f"{parser.prog} {action.dest} has no help"
            if action.option_strings:
                shown = parser.formatter_class(parser.prog)._get_help_string(action)
                assert "default" in shown, f"{parser.prog} {action.dest} shows no default"
        assert "usage:" in text


def test_syntax_check_prints_nothing_and_exits_0_or_4() -> None:
    result = play(VALID, "-i", HOSTS, "--syntax-check")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    bad = play(str(DATA / "cli" / "undefined.yml"), "-i", HOSTS, "--syntax-check")
    assert bad.returncode == 4 and bad.stdout == ""
    assert "undefined variable 'app_verison'" in bad.stderr


def test_list_hosts_has_ansibles_shape() -> None:
    result = play(VALID, "-i", HOSTS, "--list-hosts", "-l", "web1:db1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"\nplaybook: {VALID}\n\n"
        "  play #1 (db): database\tTAGS: []\n    pattern: ['db']\n    hosts (1):\n      db1\n\n"
        "  play #2 (web): web tier\tTAGS: []\n    pattern: ['web']\n    hosts (1):\n"
        "      web1\n")


def test_list_tasks_follows_tags_and_start_at_task() -> None:
    result = play(VALID, "-i", HOSTS, "--list-tasks", "--start-at-task", "config")
    assert result.returncode == 0, result.stderr
    assert "  play #2 (web): web tier\tTAGS: []\n    tasks:\n      config\tTAGS: []\n" \
           "      check\tTAGS: [checks]\n" in result.stdout
    assert "config dir" not in result.stdout  # listed before it
    assert "container db" not in result.stdout  # a play above it
    assert "container app\tTAGS: []" in result.stdout  # its play's containers still run
    tagged = play(VALID, "-i", HOSTS, "--list-tasks", "-t", "checks")
    assert "      check\tTAGS: [checks]" in tagged.stdout and "config dir" not in tagged.stdout


def test_start_at_an_unknown_task_is_exit_4_with_the_tasks_named() -> None:
    result = play(VALID, "-i", HOSTS, "--syntax-check", "--start-at-task", "cnofig")
    assert result.returncode == 4
    assert "--start-at-task 'cnofig': no task" in result.stderr
    assert "'config dir', 'config', 'check'" in result.stderr


def test_limit_at_a_retry_file_selects_the_hosts_it_lists(tmp_path: Path) -> None:
    retry = tmp_path / "valid.retry"
    retry.write_text("web3\n\nweb1\n")
    result = play(VALID, "-i", HOSTS, "--list-hosts", "--limit", f"@{retry}")
    assert result.returncode == 0, result.stderr
    assert "hosts (2):\n      web1\n      web3\n" in result.stdout
    assert "hosts (0)" in result.stdout  # the db play: none of its hosts is listed
    missing = play(VALID, "-i", HOSTS, "--list-hosts", "--limit", f"@{tmp_path / 'none'}")
    assert missing.returncode == 4 and "cannot read the host list" in missing.stderr
    empty = tmp_path / "empty.retry"
    empty.write_text("\n")
    nothing = play(VALID, "-i", HOSTS, "--list-hosts", "--limit", f"@{empty}")
    assert nothing.returncode == 4 and "lists no host" in nothing.stderr


def test_user_become_and_prompted_passwords_lie_under_the_inventorys_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass

    from engine.commands import run_playbook
    from engine.commands.options import prepare_run

    monkeypatch.setenv("PLAY_SSH_CONFIG", "/nonexistent")
    prompts: list[str] = []
    answers = {"BECOME password: ": "sudo-typed", "SSH password: ": "ssh-typed"}
    monkeypatch.setattr(getpass, "getpass", lambda prompt: prompts.append(prompt)
                        or answers[prompt])
    options = run_playbook.make_parser().parse_args([
        str(DATA / "cli" / "reach.yml"), "-i", str(DATA / "cli" / "reach.ini"),
        "-u", "admin", "-b", "-K", "-k"])
    _, prepared = prepare_run(options)
    assert prompts == ["BECOME password: ", "SSH password: "]
    plain, own = (prepared.connection_settings[name] for name in ("plain", "own"))
    assert (plain.endpoint.user, plain.become, plain.become_password, plain.ssh_password) \
        == ("admin", True, "sudo-typed", "ssh-typed")
    assert (own.endpoint.user, own.become, own.become_password, own.ssh_password) \
        == ("deploy", False, "mine", "sshmine")
    assert "ssh-typed" not in repr(plain)


def test_prompted_passwords_are_hidden_like_every_secret(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass

    from engine.commands import run_playbook
    from engine.commands.options import prepare_run
    from engine.output.redaction import secret_values

    monkeypatch.setenv("PLAY_SSH_CONFIG", "/nonexistent")
    monkeypatch.setattr(getpass, "getpass", lambda prompt: f"typed {prompt[:3]}")
    options = run_playbook.make_parser().parse_args([
        str(DATA / "cli" / "reach.yml"), "-i", str(DATA / "cli" / "reach.ini"), "-K", "-k"])
    _, prepared = prepare_run(options)
    secrets = secret_values(prepared.inventory.hosts["plain"].vars)
    assert {"typed BEC", "typed SSH"} <= secrets


def test_checking_and_listing_never_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass

    from engine import cli

    def refuse(prompt: str) -> str:
        raise AssertionError(f"prompted: {prompt}")

    monkeypatch.setattr(getpass, "getpass", refuse)
    assert cli.main([VALID, "-i", HOSTS, "--syntax-check", "-K", "-k"]) == 0


def test_a_failed_run_writes_its_failed_hosts_and_a_clean_one_removes_the_file(
        tmp_path: Path) -> None:
    from engine.results import Recap, StepResult
    from engine.retry_file import write_retry_file

    retry = tmp_path / "deploy.retry"
    recap = Recap()
    for host, status in (("web2", "failed"), ("web1", "ok"), ("db1", "unreachable")):
        recap.add(StepResult(host, "0/task/x", status))
    write_retry_file(str(retry), recap)
    assert retry.read_text() == "db1\nweb2\n"
    clean = Recap()
    clean.add(StepResult("web1", "0/task/x", "ok"))
    write_retry_file(str(retry), clean)
    assert not retry.exists()


def test_retry_file_defaults_to_play_retry_file(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.commands import run_playbook

    monkeypatch.setenv("PLAY_RETRY_FILE", "/var/tmp/deploy.retry")
    assert run_playbook.make_parser().parse_args([VALID]).retry_file == "/var/tmp/deploy.retry"
    monkeypatch.delenv("PLAY_RETRY_FILE")
    assert run_playbook.make_parser().parse_args([VALID]).retry_file is None
