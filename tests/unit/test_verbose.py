"""-v, -vv, -vvv: what each level shows, through the reporter's redaction (no network)."""

from __future__ import annotations

import io
import json

from engine.connection import CommandResult
from engine.connection.settings import ConnectionSettings, Endpoint
from engine.output.events import MASK, Redactor, Reporter
from engine.output.jsonlines import JsonWriter
from engine.output.plain import PlainWriter
from engine.output.verbose import HIDDEN, CommandTrace

RESULT = CommandResult("echo token=s3cr3t-value", 0, "token=s3cr3t-value\nline two\n",
                       "a warning\n", 0.012)


def traced(verbosity: int, secrets: tuple[str, ...] = ()) -> tuple[CommandTrace, io.StringIO]:
    stream = io.StringIO()
    reporter = Reporter([PlainWriter(stream)], Redactor(secrets))
    return CommandTrace(verbosity, reporter.emit), stream


def test_v_shows_each_command_line_without_its_output() -> None:
    trace, stream = traced(1)
    trace.command("web1", RESULT)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith("web1 $ echo token=s3cr3t-value  (rc 0, 0.012s)")


def test_vv_adds_stdout_and_stderr_line_by_line() -> None:
    trace, stream = traced(2)
    trace.command("web1", RESULT)
    text = stream.getvalue()
    assert "web1   stdout: line two" in text and "web1   stderr: a warning" in text


def test_secrets_are_masked_in_commands_and_their_output() -> None:
    trace, stream = traced(2, ("s3cr3t-value",))
    trace.command("web1", RESULT)
    text = stream.getvalue()
    assert "s3cr3t-value" not in text
    assert text.count(MASK) == 2


def test_a_no_log_steps_commands_are_hidden_at_every_level() -> None:
    trace, stream = traced(3)
    trace.step_started(is_no_log=True)
    trace.command("web1", RESULT)
    text = stream.getvalue()
    assert HIDDEN in text and "s3cr3t" not in text and "echo" not in text
    trace.step_started(is_no_log=False)
    trace.command("web1", RESULT)
    assert "echo token" in stream.getvalue()


def test_vvv_says_how_a_host_was_reached_but_never_its_passwords() -> None:
    stream = io.StringIO()
    trace = CommandTrace(3, Reporter([JsonWriter(stream)], Redactor(())).emit)
    settings = ConnectionSettings(
        host="web1", connection="ssh", endpoint=Endpoint("10.0.0.5", 2222, "deploy"),
        key_files=("/keys/id",), known_hosts="/kh", host_key_policy="strict",
        jumps=(Endpoint("bastion", 22, "jump"),), proxy_command=None, connect_timeout=10.0,
        command_timeout=None, become=True, become_password="sudo-pw",
        ssh_password="ssh-pw")
    trace.connected(settings, 0.25)
    event = json.loads(stream.getvalue())
    assert event["event"] == "connect" and event["target"] == "deploy@10.0.0.5:2222"
    assert event["jumps"] == ["jump@bastion:22"] and event["keys"] == ["/keys/id"]
    assert event["password"] is True and event["become_password"] is True
    assert "sudo-pw" not in stream.getvalue() and "ssh-pw" not in stream.getvalue()
