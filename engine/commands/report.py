"""`play report LOG`: the HTML run report (output/report.py) of the last run in a
`--json` log, written to stdout (`play report run.jsonl > run.html`)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from engine.commands.options import Parser
from engine.errors import EXIT_OK, InputError, Location
from engine.output.report import render_report


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events of a `--json` log; a line that is no event is invalid input at its line.
    Lines that are not JSON objects at all (a cron job's `2>&1` stderr) are refused too:
    the page would otherwise leave out what they said."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read the events log {path}: {error}; give the file that "
                         "`play PLAYBOOK --json > FILE` wrote", None) from error
    records: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"not a JSON event ({error.msg}); each line of the log must be "
                             "one event as `play --json` writes it", Location(str(path), number)
                             ) from error
        if not isinstance(record, dict) or "event" not in record:
            raise InputError("not a play event (a JSON object with an \"event\" key); each "
                             "line must be one event as `play --json` writes it",
                             Location(str(path), number))
        records.append(record)
    if not any(record["event"] == "run_start" for record in records):
        raise InputError("holds no run (no \"run_start\" event); give the file that "
                         "`play PLAYBOOK --json > FILE` wrote", Location(str(path)))
    return records


def write_report(log: str, out: TextIO) -> int:
    out.write(render_report(read_events(Path(log))))
    return EXIT_OK


def make_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="play report", description="write the HTML report of the last run "
                    "in a --json log to stdout: play report run.jsonl > run.html")
    parser.add_argument("log", help="the events a run wrote with --json")
    return parser


def main(argv: Sequence[str]) -> int:
    return write_report(make_parser().parse_args(argv).log, sys.stdout)
