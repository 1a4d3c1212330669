"""The run report (`--report FILE`, `play report LOG`): one self-contained HTML page (inline
CSS, JS and SVG; nothing fetched) with the recap, a timeline of every step per host, the
failures, the diffs and the registry's records after the run.

Pure: event records in, HTML out. The records are those the `--json` sink writes
(jsonlines.event_record of events the Reporter has redacted already), never raw
results, so the page shows no more than any other output does.
"""

from __future__ import annotations

import html
import json
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from engine.results import RECAP_COLUMNS

Record = Mapping[str, Any]


@dataclass(frozen=True)
class Span:
    """One step on one host, in seconds from the run's start."""

    host: str
    play: str
    step: str
    status: str             # a recap column: ok, changed, failed, ignored, skipped, unreachable
    start: float
    end: float
    duration: float
    msg: str
    diff: str | None


@dataclass(frozen=True)
class RunView:
    """What the page shows of one run."""

    playbook: str
    started: float                      # epoch seconds
    hosts: tuple[str, ...]
    is_check: bool
    spans: tuple[Span, ...]
    recap: Mapping[str, Mapping[str, int]]
    wall_time: float | None              # None: the log ends before the run's recap
    warnings: tuple[str, ...] = ()
    instances: tuple[Mapping[str, Any], ...] | None = None  # None: no registry event
    run_number: int = 1
    runs_in_log: int = 1
    end: float = 0.0                     # seconds from the start to the last event


def split_runs(records: Iterable[Record]) -> list[list[Record]]:
    """The runs of a log, each from its `run_start` (a cron job appends one run after
    another to the same file)."""
    runs: list[list[Record]] = []
    for record in records:
        if record.get("event") == "run_start" or not runs:
            runs.append([])
        runs[-1].append(record)
    return runs


def read_run(records: Sequence[Record], run_number: int = 1, runs_in_log: int = 1) -> RunView:
    first = records[0] if records else {}
    started = float(first.get("time", 0.0))
    starts: dict[tuple[str, str, str], float] = {}
    spans: list[Span] = []
    recap: Mapping[str, Mapping[str, int]] = {}
    wall_time: float | None = None
    warnings: list[str] = []
    instances: tuple[Mapping[str, Any], ...] | None = None
    last = started
    for record in records:
        kind, at = record.get("event"), float(record.get("time", started))
        last = max(last, at)
        key = (str(record.get("host")), str(record.get("play")), str(record.get("step")))
        if kind == "step_start":
            starts[key] = at
        elif kind == "step_end":
            duration = float(record.get("duration") or 0.0)
            # a step skipped because what it needs failed never started
            begin = starts.pop(key, at - duration)
            status = "ignored" if record.get("ignored") else str(record.get("status"))
            spans.append(Span(key[0], key[1], key[2], status, begin - started, at - started,
                              duration, str(record.get("msg") or ""), record.get("diff")))
        elif kind == "recap":
            recap = record.get("recap") or {}
            wall_time = float(record.get("wall_time") or 0.0)
        elif kind == "warning":
            warnings.append(str(record.get("msg", "")))
        elif kind == "registry":
            instances = tuple(record.get("instances") or ())
    hosts = tuple(first.get("hosts") or sorted({span.host for span in spans}))
    return RunView(str(first.get("playbook", "?")), started, hosts, bool(first.get("check")),
                   tuple(spans), recap, wall_time, tuple(warnings), instances, run_number,
                   runs_in_log, last - started)


def render_report(records: Iterable[Record]) -> str:
    """The page of the last run in `records`."""
    runs = split_runs(records)
    if not runs:
        return _page(RunView("?", 0.0, (), False, (), {}, None))
    return _page(read_run(runs[-1], len(runs), len(runs)))


def _asset(name: str) -> str:
    return resources.files("engine.output").joinpath("report_page", name).read_text("utf-8")


def _script_json(value: Any) -> str:
    """JSON that is safe inside a <script> element: no `</script>`, no `<!--`."""
    return (json.dumps(value, separators=(",", ":"))
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _escape(value: object) -> str:
    return html.escape(str(value), quote=True)


def _page(run: RunView) -> str:
    timeline = {"end": round(run.end, 3),
                "hosts": list(run.hosts),
                "spans": [{"host": s.host, "play": s.play, "step": s.step, "status": s.status,
                           "start": round(s.start, 3), "end": round(s.end, 3),
                           "duration": s.duration, "msg": s.msg[:500]} for s in run.spans]}
    title = f"play run: {run.playbook}"
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        # nothing may load from anywhere: the page is opened from disk, e.g. off a CI job
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">",
        f"<title>{_escape(title)}</title>", f"<style>\n{_asset('report.css')}</style>",
        "</head>", "<body>", _header(run), "<main>", _recap(run), _timeline(run),
        _time_spent(run), _failures(run), _diffs(run), _warnings(run), _registry(run),
        "</main>",
        f'<script type="application/json" id="play-run-data">{_script_json(timeline)}</script>',
        f"<script>\n{_asset('report.js')}</script>", "</body>", "</html>", ""])


def _header(run: RunView) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(run.started))
    facts = [f"started {when}", f"{len(run.hosts)} hosts", f"{len(run.spans)} steps",
             "wall time " + (f"{run.wall_time:.2f} s" if run.wall_time is not None
                             else "unknown (the log ends before the recap)")]
    if run.is_check:
        facts.append("check mode: nothing was changed")
    if run.runs_in_log > 1:
        facts.append(f"run {run.run_number} of {run.runs_in_log} in the log")
    return (f"<header><h1>play {_escape(run.playbook)}</h1>"
            f'<div class="facts">{_escape(" · ".join(facts))}</div></header>')


def _recap(run: RunView) -> str:
    head = "".join(f"<th>{column}</th>" for column in RECAP_COLUMNS)
    rows = []
    for host in sorted(run.recap):
        counts = run.recap[host]
        cells = "".join(f'<td class="number">{int(counts.get(column, 0))}</td>'
                        for column in RECAP_COLUMNS)
        rows.append(f'<tr data-host="{_escape(host)}"><td>{_escape(host)}</td>{cells}</tr>')
    body = (f'<table id="recap"><tr><th>host</th>{head}</tr>{"".join(rows)}</table>' if rows
            else '<p class="none">no recap: the run did not finish</p>')
    return f"<section><h2>Recap</h2>{body}</section>"


def _timeline(run: RunView) -> str:
    legend = "".join(f'<span class="status-{status}"><i class="swatch"></i>{status}</span>'
                     for status in RECAP_COLUMNS)
    return ("<section><h2>Timeline</h2>"
            '<p class="none">Each bar is a step on a host, from its start to its end; steps '
            "that overlapped on a host are stacked. Hover a bar for its status, duration and "
            "message.</p>"
            f'<div class="legend">{legend}</div>'
            '<div id="timeline"><noscript>The timeline is drawn by JavaScript.</noscript>'
            "</div></section>")


def _time_spent(run: RunView) -> str:
    """Where the minutes went: each step's time summed over its hosts, longest first."""
    totals: dict[tuple[str, str], list[float]] = defaultdict(list)
    for span in run.spans:
        totals[span.play, span.step].append(span.end - span.start)
    ranked = sorted(totals.items(), key=lambda item: -sum(item[1]))[:15]
    rows = "".join(
        f"<tr><td>{_escape(step)}</td><td>{_escape(play)}</td>"
        f'<td class="number">{len(times)}</td><td class="number">{sum(times):.2f}</td>'
        f'<td class="number">{max(times):.2f}</td></tr>' for (play, step), times in ranked)
    body = ("<table><tr><th>step</th><th>play</th><th>hosts</th><th>total s</th>"
            f"<th>longest s</th></tr>{rows}</table>" if rows
            else '<p class="none">no step ran</p>')
    return f"<section><h2>Where the time went</h2>{body}</section>"


def _failures(run: RunView) -> str:
    failed = [span for span in run.spans if span.status in ("failed", "ignored", "unreachable")]
    items = "".join(
        f'<div class="failure" data-host="{_escape(span.host)}">'
        f'<span class="badge status-{span.status}">{span.status}</span> '
        f"<b>{_escape(span.step)}</b> [{_escape(span.play)}] on {_escape(span.host)} "
        f"after {span.duration:.2f} s<pre>{_escape(span.msg or '(no message)')}</pre></div>"
        for span in failed)
    return (f'<section id="failures"><h2>Failures ({len(failed)})</h2>'
            f"{items or '<p class=none>none</p>'}</section>")


def _diff_html(diff: str) -> str:
    lines = []
    for line in diff.splitlines():
        css = ("hunk" if line.startswith("@@") else "add" if line.startswith("+")
               else "del" if line.startswith("-") else "")
        lines.append(f'<span class="{css}">{_escape(line)}</span>' if css else _escape(line))
    return '<pre class="diff">' + "\n".join(lines) + "</pre>"


def _diffs(run: RunView) -> str:
    changed = [span for span in run.spans if span.diff]
    items = "".join(f"<details><summary>{_escape(span.step)} [{_escape(span.play)}] on "
                    f"{_escape(span.host)}</summary>{_diff_html(span.diff or '')}</details>"
                    for span in changed)
    hint = "" if changed else "<p class=none>none (run with --diff to record them)</p>"
    return f'<section id="diffs"><h2>Diffs ({len(changed)})</h2>{items}{hint}</section>'


def _warnings(run: RunView) -> str:
    if not run.warnings:
        return ""
    items = "".join(f"<li>{_escape(warning)}</li>" for warning in run.warnings)
    return f"<section><h2>Warnings</h2><ul>{items}</ul></section>"


def _registry(run: RunView) -> str:
    if run.instances is None:
        body = '<p class="none">not recorded (the playbook registers no service)</p>'
    elif not run.instances:
        body = '<p class="none">no instance registered</p>'
    else:
        rows = "".join(
            f"<tr><td>{_escape(i.get('service', ''))}</td><td>{_escape(i.get('instance', ''))}"
            f"</td><td>{_escape(i.get('host', ''))}</td>"
            f"<td>{_escape(i.get('address', ''))}:{_escape(i.get('port', ''))}</td>"
            f"<td>{_escape(','.join(map(str, i.get('tags') or ())))}</td>"
            f"<td>{_escape(i.get('container', ''))}</td>"
            f"<td>{_escape(str(i.get('image_id', ''))[7:19])}</td>"
            f"<td>{_escape(i.get('registered_at', ''))}</td></tr>" for i in run.instances)
        body = ("<table><tr><th>service</th><th>instance</th><th>host</th><th>address</th>"
                "<th>tags</th><th>container</th><th>image</th><th>registered</th></tr>"
                f"{rows}</table>")
    return f'<section id="registry"><h2>Registry after the run</h2>{body}</section>'
