"""debug, set_fact, assert, fail and meta: flush_handlers through the step runner and the
scheduler, on a local host (these actions touch no host); debug's output through the
event stream, with secrets masked like every other message."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from engine.commands.options import read_inventory as _load_inventory
from engine.execute import Limits, Scheduler
from engine.results import StepResult
from engine.run import prepare
from engine.run_options import RunOptions
from engine.tasks import RunState, StepOptions, StepRunner

ROOT = Path(__file__).parent.parent.parent


class _Pool:
    def get(self, host: str) -> object:
        return object()


def _run(tmp_path: Path, play: str) -> dict[str, StepResult]:
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    web1: {connection: local}\n")
    (tmp_path / "play.yml").write_text(f"- name: p\n  hosts: all\n{play}")
    prepared = prepare(RunOptions(playbook=str(tmp_path / "play.yml"),
                                  inventories=(str(tmp_path / "hosts.yml"),)), _load_inventory)
    runner = StepRunner(prepared.plan, prepared.inventory, prepared.extra_vars,
                        _Pool(), StepOptions())  # type: ignore[arg-type]
    results = Scheduler(prepared.plan.graph, runner, Limits()).run()
    return {node[1].split("/", 1)[1]: result for node, result in results.items()}


def test_debug_shows_a_message_or_a_variable(tmp_path: Path) -> None:
    results = _run(tmp_path, """  vars: {port: 8080, ports: [1, 2]}
  tasks:
    - {name: msg, debug: {msg: "port is {{ port }}"}}
    - {name: var, debug: {var: ports}}
    - {name: expr, debug: {var: "port + 1"}}
    - {name: missing, debug: {var: nothing}}
    - {name: default, debug: {}}
""")
    assert [(results[f"task/{name}"].msg, results[f"task/{name}"].shows_msg) for name in (
        "msg", "var", "expr", "missing", "default")] == [
        ("port is 8080", True), ("ports: [1, 2]", True), ("port + 1: 8081", True),
        ("nothing: VARIABLE IS NOT DEFINED!", True), ("Hello world!", True)]
    assert all(result.status == "ok" for result in results.values())


def test_set_fact_feeds_later_steps_and_later_loop_items(tmp_path: Path) -> None:
    results = _run(tmp_path, """  vars: {base: 10}
  tasks:
    - {name: set, set_fact: {doubled: "{{ base * 2 }}", names: []}}
    - name: gather
      set_fact: {names: "{{ names + [item] }}"}
      loop: [a, b, c]
    - {name: show, debug: {msg: "{{ doubled }} {{ names | join(',') }}"}}
    - name: check
      assert:
        that: ["doubled == 20", "names | length == 3"]
        success_msg: all good
""")
    assert results["task/show"].msg == "20 a,b,c"
    assert (results["task/check"].status, results["task/check"].msg) == ("ok", "all good")


def test_assert_fails_with_its_message_or_the_condition(tmp_path: Path) -> None:
    results = _run(tmp_path, """  vars: {port: 80}
  tasks:
    - name: custom
      assert: {that: ["port > 0", "port > 1024"], fail_msg: "port {{ port }} is privileged"}
      ignore_errors: true
    - name: plain
      assert: {that: "port == 1"}
      ignore_errors: true
    - {name: stop, fail: {msg: "stopping at {{ port }}"}}
    - {name: after, debug: {msg: never}}
""")
    assert (results["task/custom"].status, results["task/custom"].msg) == (
        "failed", "port 80 is privileged")
    assert results["task/plain"].msg == "assertion failed: port == 1"
    assert (results["task/stop"].status, results["task/stop"].msg) == ("failed", "stopping at 80")
    assert results["task/after"].status == "skipped"


def test_an_assert_on_an_undefined_variable_fails_naming_it(tmp_path: Path) -> None:
    results = _run(tmp_path, "  tasks:\n    - {name: a, assert: {that: 'nope == 1'}}\n")
    assert results["task/a"].status == "failed" and "'nope' is undefined" in results["task/a"].msg


FLUSH = """  tasks:
    - {name: first, debug: {msg: one}, changed_when: true, notify: h}
    - {name: flush, meta: flush_handlers}
    - {name: between, debug: {msg: two}}
    - {name: again, debug: {msg: three}, changed_when: %s, notify: h}
  handlers:
    - {name: h, debug: {msg: handler}, changed_when: true}
"""


def test_flush_handlers_runs_notified_handlers_there_and_again_only_if_renotified(
        tmp_path: Path) -> None:
    results = _run(tmp_path, FLUSH % "false")
    flush = results["task/flush"]
    assert (flush.status, flush.msg) == ("changed", "ran handlers: h (changed)")
    assert results["handler/h"].is_hidden  # not notified since the flush: not run again
    renotified = _run(tmp_path, FLUSH % "true")
    assert renotified["handler/h"].status == "changed" and not renotified["handler/h"].is_hidden


def test_flush_with_nothing_notified_runs_nothing(tmp_path: Path) -> None:
    results = _run(tmp_path, """  tasks:
    - {name: flush, meta: flush_handlers}
  handlers:
    - {name: h, fail: {}}
""")
    assert (results["task/flush"].status, results["task/flush"].msg) == (
        "ok", "no handler was notified")


def test_debug_output_reaches_the_console_and_json_with_secrets_masked(tmp_path: Path) -> None:
    (tmp_path / "hosts.yml").write_text(
        "all:\n  hosts:\n    web1: {connection: local}\n  vars:\n    secret_vars: [token]\n"
        "    token: s3cr3t-value\n")
    (tmp_path / "play.yml").write_text(
        "- name: p\n  hosts: all\n  tasks:\n"
        "    - {name: show, debug: {msg: 'token={{ token }} visible'}}\n")
    arguments = [sys.executable, "-m", "engine", str(tmp_path / "play.yml"), "-i",
                 str(tmp_path / "hosts.yml")]
    plain = subprocess.run(arguments, capture_output=True, text=True, cwd=ROOT, check=False)
    assert plain.returncode == 0, plain.stderr
    assert "token=******** visible" in plain.stdout and "s3cr3t" not in plain.stdout
    lines = subprocess.run([*arguments, "--json"], capture_output=True, text=True, cwd=ROOT,
                           check=False).stdout.splitlines()
    ends: list[dict[str, Any]] = [event for event in map(json.loads, lines)
                                  if event.get("kind", event.get("event")) == "step_end"]
    assert ends and "s3cr3t" not in "\n".join(lines)
    assert any("token=******** visible" in json.dumps(event) for event in ends)


def test_a_flush_answers_a_handler_but_a_container_of_that_name_stays_notified() -> None:
    state = RunState()
    state.notify("web1", ("api",))
    assert state.take_pending("web1", "api")       # the handler `api`, at the flush
    assert not state.take_pending("web1", "api")   # the handler at the end: not again
    assert state.is_notified("web1", "api")        # the container `api` still restarts
