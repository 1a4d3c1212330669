"""Output writers and redaction, fed with events (no hosts)."""

from __future__ import annotations

import io
import json
import os
import re
import stat
from pathlib import Path

from rich.console import Console

from engine.output.events import MASK, Redactor, Reporter
from engine.output.jsonlines import JsonWriter
from engine.output.live import LiveConsole
from engine.output.plain import PlainWriter
from engine.output.redaction import secret_values
from engine.results import Event, Recap, StepResult
from engine.rollout import exit_status

FAILED = StepResult("lab1", "0/task/x", "failed", msg="password hunter2 rejected",
                    diff="-old\n+hunter2\n", duration=0.5)


def events() -> list[Event]:
    recap = Recap()
    recap.add(FAILED)
    return [Event("run_start", data={"playbook": "p.yml", "hosts": ["lab1"], "check": False}),
            Event("step_start", host="lab1", play="p", step="task x"),
            Event("step_end", host="lab1", play="p", step="task x", result=FAILED),
            Event("recap", data={"recap": recap, "wall_time": 1.5, "commands": {"lab1": 2}})]


def test_redactor_masks_secrets_in_messages_diffs_and_data() -> None:
    out = io.StringIO()
    reporter = Reporter([JsonWriter(out)], Redactor(["hunter2"]))
    for event in events():
        reporter.emit(event)
    assert "hunter2" not in out.getvalue()
    assert MASK in out.getvalue()



PEM = ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"
       "QyNTUxOQAAACBhYWFhYWFhYWFhYWFhYWFhYWFhYWFh\n-----END OPENSSH PRIVATE KEY-----\n")


def test_every_line_of_a_multi_line_secret_is_masked_in_a_diff() -> None:
    from engine.actions.files import unified_diff

    diff = unified_diff("/srv/key", None, f"# key\n{PEM}".encode())
    result = StepResult("lab1", "0/task/k", "changed", diff=diff)
    out = io.StringIO()
    reporter = Reporter([PlainWriter(out)], Redactor([PEM]))
    reporter.emit(Event("step_end", host="lab1", play="p", step="task k", result=result))
    text = out.getvalue()
    for line in PEM.splitlines():
        assert line not in text
    assert text.count(MASK) == 4 and "+# key" in text


def test_templated_play_and_step_names_are_masked() -> None:
    out = io.StringIO()
    reporter = Reporter([JsonWriter(out), PlainWriter(out)], Redactor(["hunter2"]))
    reporter.emit(Event("step_start", host="lab1", play="deploy hunter2", step="task hunter2"))
    reporter.emit(Event("step_end", host="lab1", play="deploy hunter2", step="task hunter2",
                        result=FAILED))
    assert "hunter2" not in out.getvalue()


def test_a_secret_escaped_by_repr_or_json_is_masked_too() -> None:
    secret = 'pa"ss\\w\'rd'
    redactor = Redactor([secret])
    for shown in (repr(secret), json.dumps(secret), f"not {secret!r}: refused"):
        assert "ss" not in redactor.text(shown), shown


def test_become_passwords_are_secrets_without_being_listed() -> None:
    found = secret_values({"become_password": "sudo-pw", "ansible_become_pass": "other-pw",
                           "ansible_become_password": "third-pw", "plain": "visible",
                           "secret_vars": ["token"], "token": {"a": ["tok-en"]}})
    assert found == {"sudo-pw", "other-pw", "third-pw", "tok-en"}


def test_json_writer_writes_one_object_per_event() -> None:
    out = io.StringIO()
    writer = JsonWriter(out)
    for event in events():
        writer.handle(event)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["event"] for r in records] == ["run_start", "step_start", "step_end", "recap"]
    assert records[2]["status"] == "failed" and records[2]["duration"] == 0.5
    assert records[3]["recap"]["lab1"]["failed"] == 1


def test_plain_writer_has_no_colour_and_one_line_per_step() -> None:
    out = io.StringIO()
    writer = PlainWriter(out)
    for event in events():
        writer.handle(event)
    text = out.getvalue()
    assert "\x1b[" not in text
    assert sum("task x" in line for line in text.splitlines()) == 1
    assert "RECAP" in text and "wall time 1.50 s" in text



HOSTILE_OUTPUT = "\x1b]0;pwned\x07\x1b[2J\rok \u202eevil\x9b\tcol\nnext"
HOSTILE = StepResult("lab1", "0/task/x", "failed", msg=HOSTILE_OUTPUT,
                     diff=f"+{HOSTILE_OUTPUT}\n", duration=0.5)
HOSTILE_EVENTS = [Event("step_start", host="lab1", play="p", step="task x"),
                  Event("step_end", host="lab1", play="p", step="task x", result=HOSTILE),
                  Event("warning", data={"msg": HOSTILE_OUTPUT})]


def _assert_escaped(text: str, is_terminal: bool = False) -> None:
    # rich itself writes \r, colours and cursor moves on a terminal, and expands tabs
    for raw in ("\x1b]0;", "\x1b[2J", "\x07", "\u202e", "\x9b", *([] if is_terminal else ["\r"])):
        assert raw not in text, repr(raw)
    assert "\\x1b]0;pwned\\x07\\x1b[2J\\x0dok \\u202eevil\\x9b" in text
    if not is_terminal:
        assert "\\x9b\tcol\nnext" in text


def test_host_output_reaches_the_console_and_log_with_control_characters_escaped() -> None:
    out = io.StringIO()
    writer = PlainWriter(out)
    for event in HOSTILE_EVENTS:
        writer.handle(event)
    _assert_escaped(out.getvalue())
    terminal = io.StringIO()
    console = LiveConsole(Console(file=terminal, force_terminal=True, width=200))
    for event in HOSTILE_EVENTS:
        console.handle(event)
    console.close()
    _assert_escaped(terminal.getvalue(), is_terminal=True)


def test_json_keeps_host_output_as_it_came() -> None:
    out = io.StringIO()
    JsonWriter(out).handle(HOSTILE_EVENTS[1])
    assert "\x1b" not in out.getvalue()
    assert json.loads(out.getvalue())["msg"] == HOSTILE_OUTPUT


def test_live_console_draws_on_a_terminal_and_ends_with_the_recap() -> None:
    out = io.StringIO()
    console = LiveConsole(Console(file=out, force_terminal=True, width=100))
    for event in events():
        console.handle(event)
    console.close()
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    assert "recap" in text and "wall time 1.50 s" in text
    # the failure was printed above the live table, brackets and all (no markup)
    assert "lab1 task x [p]: password" in text


def test_exit_status_follows_the_spec() -> None:
    recap = Recap()
    assert exit_status(recap, interrupted=False, check=False) == 0
    recap.add(StepResult("a", "s", "changed"))
    assert exit_status(recap, interrupted=False, check=True) == 6
    recap.add(StepResult("b", "s", "unreachable"))
    assert exit_status(recap, interrupted=False, check=False) == 3
    recap.add(StepResult("c", "s", "failed"))
    assert exit_status(recap, interrupted=False, check=False) == 2
    recap.add(StepResult("d", "s", "failed", is_ignored=True))
    assert recap.counts["d"]["ignored"] == 1
    assert exit_status(recap, interrupted=True, check=False) == 130


def test_a_log_file_is_created_private(tmp_path: Path) -> None:
    from engine.run import _sinks
    from engine.run_options import RunOptions

    log = tmp_path / "run.log"
    old_umask = os.umask(0o022)
    try:
        sinks = _sinks(RunOptions(playbook="p.yml", log=str(log)), io.StringIO())
    finally:
        os.umask(old_umask)
    for sink in sinks:
        sink.handle(events()[0])
        sink.close()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert "run p.yml on 1 hosts" in log.read_text()


def test_tables_pad_every_column_but_the_last_and_never_cut_a_value() -> None:
    from engine.output.table import table_lines

    lines = table_lines([("SERVICE", 8), ("INSTANCE", 6), ("WHY", 0)],
                        [("api", "api-lab1-1", "gone"), ("db", "db-1", "")])
    assert lines == ["SERVICE  INSTANCE WHY", "api      api-lab1-1 gone", "db       db-1"]
