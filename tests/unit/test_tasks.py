"""What the step runner reports for a task, driven without a host (a fake connection)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import engine.tasks
from engine.actions.base import ActionContext, Outcome
from engine.commands.options import read_inventory as _load_inventory
from engine.execute import Limits, Scheduler
from engine.run import prepare
from engine.run_options import RunOptions
from engine.tasks import StepOptions, StepRunner

SECRET = "hunter2-secret"


class _Pool:
    def get(self, host: str) -> object:
        return object()


def _results(tmp_path: Path, task: str,
             extra_vars: Mapping[str, Any] | None = None) -> dict[str, Any]:
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    web1: {connection: local}\n")
    (tmp_path / "play.yml").write_text(
        f"- name: p\n  hosts: all\n  vars: {{pw: {SECRET}}}\n  tasks:\n{task}")
    options = RunOptions(playbook=str(tmp_path / "play.yml"),
                         inventories=(str(tmp_path / "hosts.yml"),),
                         extra_vars=tuple(f"{key}={value}" for key, value in
                                          (extra_vars or {}).items()))
    prepared = prepare(options, _load_inventory)
    runner = StepRunner(prepared.plan, prepared.inventory, prepared.extra_vars,
                        _Pool(),  # type: ignore[arg-type]
                        StepOptions())
    results = Scheduler(prepared.plan.graph, runner, Limits()).run()
    return {node[1].split("/")[-1]: result for node, result in results.items()}


def _buggy(args: Mapping[str, Any], context: ActionContext) -> Outcome:
    raise AttributeError(f"cannot find {args}")


@pytest.mark.parametrize("no_log", [True, False])
def test_an_internal_error_in_a_no_log_task_hides_its_message(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_log: bool) -> None:
    monkeypatch.setattr(engine.tasks, "find_action", lambda name: _buggy)
    results = _results(tmp_path, "    - {name: login, command: 'login {{ pw }}', "
                                 f"no_log: {str(no_log).lower()}}}\n")
    assert results["login"].status == "failed"
    message = results["login"].msg
    assert message.startswith("internal error: ") and "AttributeError" in message
    assert (SECRET in message) is not no_log  # without no_log the bug is shown


def _failing(args: Mapping[str, Any], context: ActionContext) -> Outcome:
    return Outcome(failed=True, msg=f"failed, become={context.become}")


@pytest.mark.parametrize(("value", "is_on"), [
    ("false", False), ("no", False), ("off", False), ("0", False), ("False", False),
    ("true", True), ("yes", True), ("on", True), ("1", True)])
def test_a_templated_boolean_keyword_reads_words_as_ansible_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, is_on: bool) -> None:
    monkeypatch.setattr(engine.tasks, "find_action", lambda name: _failing)
    results = _results(tmp_path, "    - {name: t, command: 'true', become: '{{ f }}', "
                                 "ignore_errors: '{{ f }}'}\n", {"f": value})
    assert results["t"].msg == f"failed, become={is_on}"
    assert results["t"].is_ignored is is_on


def test_a_templated_boolean_keyword_that_is_no_boolean_fails_naming_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine.tasks, "find_action", lambda name: _failing)
    results = _results(tmp_path, "    - {name: t, command: 'true', become: '{{ f }}'}\n",
                       {"f": "maybe"})
    assert results["t"].status == "failed"
    assert results["t"].msg == "become must be true or false (yes/no, on/off, 1/0), not 'maybe'"


class _Scripted:
    """A host whose commands answer from a script: (exit status, stdout) per call, the
    last one repeated; records every command line it ran."""

    def __init__(self, answers: list[tuple[int, str]]) -> None:
        self.answers = answers
        self.lines: list[str] = []

    def run(self, argv: list[str], *, stdin: bytes | None = None,
            timeout: float | None = None, become: bool = False,
            become_user: str | None = None) -> Any:
        from engine.connection import CommandResult

        self.lines.append(" ".join(argv))
        status, stdout = self.answers[min(len(self.lines), len(self.answers)) - 1]
        return CommandResult(" ".join(argv), status, stdout, "", 0.0)


def _scripted_results(tmp_path: Path, tasks: str,
                      answers: list[tuple[int, str]]) -> tuple[dict[str, Any], _Scripted]:
    host = _Scripted(answers)

    class Pool:
        def get(self, name: str) -> _Scripted:
            return host

    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    web1: {connection: local}\n")
    (tmp_path / "play.yml").write_text(f"- name: p\n  hosts: all\n  tasks:\n{tasks}")
    prepared = prepare(RunOptions(playbook=str(tmp_path / "play.yml"),
                                  inventories=(str(tmp_path / "hosts.yml"),)), _load_inventory)
    runner = StepRunner(prepared.plan, prepared.inventory, {}, Pool(),  # type: ignore[arg-type]
                        StepOptions())
    results = Scheduler(prepared.plan.graph, runner, Limits()).run()
    return {node[1].split("/")[-1]: result for node, result in results.items()}, host


def test_a_loop_runs_once_per_item_and_registers_every_result(tmp_path: Path) -> None:
    results, host = _scripted_results(tmp_path, (
        "    - {name: each, command: 'echo {{ item }}', loop: [a, b], register: out}\n"
        "    - {name: after, command: \"echo {{ out.results | map(attribute='stdout') "
        "| join(',') }}\"}\n"), [(0, "one"), (0, "two"), (0, "")])
    assert host.lines == ["echo a", "echo b", "echo one,two"]
    assert results["each"].status == "changed"


def test_until_retries_until_the_condition_holds_and_fails_after_the_last(
        tmp_path: Path) -> None:
    results, host = _scripted_results(tmp_path, (
        "    - {name: wait, command: probe, register: r, until: r.rc == 0, retries: 3,"
        " delay: 0}\n"), [(1, ""), (1, ""), (0, "up")])
    assert len(host.lines) == 3 and results["wait"].status == "changed"
    results, host = _scripted_results(tmp_path, (
        "    - {name: wait, command: probe, register: r, until: r.rc == 0, retries: 1,"
        " delay: 0}\n"), [(1, "")])
    assert len(host.lines) == 2 and results["wait"].status == "failed"
    assert "after 2 attempts" in results["wait"].msg


def test_changed_when_and_failed_when_decide_the_status(tmp_path: Path) -> None:
    results, _ = _scripted_results(tmp_path, (
        "    - {name: look, command: cat x, register: r, changed_when: false}\n"
        "    - {name: never, command: echo z, when: r.rc != 0}\n"
        "    - {name: judge, command: grep y, failed_when: \"'bad' in r.stdout\"}\n"),
        [(0, "bad"), (0, "")])
    assert results["look"].status == "ok"
    assert results["never"].status == "skipped" and results["never"].msg == "condition is false"
    assert results["judge"].status == "failed"
