"""The run report (output/report.py, `--report`, `play report`): what the page holds, read
from a recorded `--json` log (tests/data/report/events.jsonl, recorded with
`play tests/data/report/site.yml -i tests/data/report/hosts.yml -e dir=... --diff --json`)
and from a real local run. The browser's view of it: tests/e2e/test_report.py."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

from engine.output.report import render_report

ROOT = Path(__file__).parent.parent.parent
DATA = ROOT / "tests" / "data" / "report"
SECRETS = ("tok-9f27c1-secret", "nolog-7d1e-value")   # api_token (secret_vars), a no_log output


def _recorded() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / "events.jsonl").read_text().splitlines()]


def _timeline_data(page: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="play-run-data">(.*?)</script>',
                      page, re.DOTALL)
    assert match, "the page carries the timeline's data"
    return dict(json.loads(match.group(1)))


def _play(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine", *arguments], capture_output=True,
                          text=True, cwd=ROOT, timeout=60, check=False)


def test_report_has_the_recap_and_a_timeline_span_for_every_step_on_every_host() -> None:
    page = render_report(_recorded())
    assert '<tr data-host="alpha">' in page and '<tr data-host="beta">' in page
    timeline = _timeline_data(page)
    assert timeline["hosts"] == ["alpha", "beta"]
    steps = {"task hello", "task slow step", "task breaks", "task keep it quiet", "task config"}
    assert {(span["host"], span["step"]) for span in timeline["spans"]} == {
        (host, step) for host in ("alpha", "beta") for step in steps}
    slow = next(span for span in timeline["spans"] if span["step"] == "task slow step")
    assert slow["end"] - slow["start"] >= 0.2   # the bar spans the step's real time
    assert all(0 <= span["start"] <= span["end"] <= timeline["end"] for span in
               timeline["spans"])


def test_report_lists_failures_with_their_stderr_and_diffs_with_their_lines() -> None:
    page = render_report(_recorded())
    failures = page[page.index('id="failures"'):page.index('id="diffs"')]
    assert "Failures (4)" in failures
    assert "cannot reach ********" in failures and "(output hidden by no_log)" in failures
    diffs = page[page.index('id="diffs"'):page.index('id="registry"')]
    assert '<span class="add">+host=alpha</span>' in diffs and "+host=beta" in diffs


def test_report_of_a_real_run_never_shows_a_secret_or_no_log_output(tmp_path: Path) -> None:
    report = tmp_path / "run.html"
    result = _play(str(DATA / "site.yml"), "-i", str(DATA / "hosts.yml"), "-e",
                   f"dir={tmp_path}", "--diff", "--report", str(report))
    assert result.returncode == 0, result.stdout + result.stderr
    page = report.read_text()
    assert "cannot reach ********" in page    # the failure is there, its secret masked
    assert not [secret for secret in SECRETS if secret in page]
    assert stat.S_IMODE(report.stat().st_mode) == 0o600  # it holds what hosts answered


def test_report_escapes_markup_from_names_and_host_output() -> None:
    hostile = "</script><img src=x onerror=alert(1)>"
    records = [{"event": "run_start", "time": 10.0, "playbook": "p.yml", "hosts": ["h1"]},
               {"event": "step_start", "time": 10.5, "host": "h1", "play": "p",
                "step": f"task {hostile}"},
               {"event": "step_end", "time": 11.0, "host": "h1", "play": "p",
                "step": f"task {hostile}", "status": "failed", "duration": 0.5,
                "msg": hostile, "diff": None, "ignored": False}]
    page = render_report(records)
    assert hostile not in page and "<img" not in page
    assert _timeline_data(page)["spans"][0]["msg"] == hostile   # intact as data


def test_report_shows_the_registry_records_after_the_run() -> None:
    instance = {"service": "api", "instance": "api@web1", "host": "web1",
                "address": "10.0.0.5", "port": 8080, "tags": ["http", "v2"], "meta": {},
                "container": "api", "image_id": "sha256:0123456789abcdef0123",
                "registered_at": "2026-12-03T09:00:00Z"}
    records = [*_recorded()[:-1], {"event": "registry", "time": 20.0, "instances": [instance]},
               _recorded()[-1]]
    registry = render_report(records).split('id="registry"')[1]
    assert "api@web1" in registry and "10.0.0.5:8080" in registry and "http,v2" in registry
    assert "0123456789ab" in registry
    assert "not recorded" in render_report(_recorded()).split('id="registry"')[1]


def test_play_report_writes_the_page_of_the_last_run_in_a_log(tmp_path: Path) -> None:
    log = tmp_path / "play.jsonl"
    first = [record for record in _recorded() if record.get("host") != "beta"]
    log.write_text("".join(json.dumps(record) + "\n" for record in [*first, *_recorded()]))
    result = _play("report", str(log))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("<!DOCTYPE html>")
    assert "run 2 of 2 in the log" in result.stdout
    assert {span["host"] for span in _timeline_data(result.stdout)["spans"]} == {"alpha", "beta"}


def test_play_report_refuses_a_line_that_is_no_event_at_its_line(tmp_path: Path) -> None:
    log = tmp_path / "play.jsonl"
    log.write_text((DATA / "events.jsonl").read_text() + "Traceback (most recent call last):\n")
    result = _play("report", str(log))
    assert result.returncode == 4
    assert f"{log}:23: not a JSON event" in result.stderr and not result.stdout


def test_report_into_a_missing_folder_is_refused_before_the_run(tmp_path: Path) -> None:
    result = _play(str(DATA / "site.yml"), "-i", str(DATA / "hosts.yml"), "-e",
                   f"dir={tmp_path}", "--report", str(tmp_path / "missing" / "run.html"))
    assert result.returncode == 4
    assert "--report" in result.stderr and "existing folder" in result.stderr
    assert not list(tmp_path.glob("*.conf"))   # nothing ran
