"""`python -m bench`: bring up the lab, run every scenario with every tool (round robin,
several runs each), print the table and the targets, take the lab down.

    python -m bench [--quick] [--runs N] [--scenario KEY]... [--no-anchors]
                    [--skip-tool NAME]...
"""

from __future__ import annotations

import argparse
import compileall
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import engine
from bench import lab, report
from bench.measure import TIMED_OUT, Sample, run_measured
from bench.scenarios import Scenario, all_scenarios
from bench.tools import Target, Tool
from bench.tools.ansible import Ansible
from bench.tools.floors import ControlMasterFloor, ParamikoFloor, StackFloor
from bench.tools.play import Play, PythonStartup
from bench.tools.pyinfra import Pyinfra
from bench.venvs import ensure_anchors

TOOLS: list[Tool] = [Play(), Ansible(), Pyinfra(), StackFloor(), ParamikoFloor(),
                     ControlMasterFloor(), PythonStartup()]
ANCHORS = ("ansible", "pyinfra")
WRONG_RESULT = 99  # the tool exited 0 but the hosts are not in the state it was asked for
# At 1000 hosts each anchor runs once, and is stopped after 15 minutes (ansible-playbook
# took 226 s at 200 hosts: about 19 minutes at 1000 if it stays linear)
LARGE_HOSTS = 1000
ANCHOR_CAP = 900.0
TOOL_TIMEOUT = 1800.0  # any other run: a hung tool must not hang the bench
# Every tool runs as on a user's machine: this machine's environment sets
# PYTHONDONTWRITEBYTECODE, which would make each run of a tool whose modules were never
# byte-compiled (play's editable install) compile them again, every time.
TOOL_ENVIRONMENT = {name: value for name, value in os.environ.items()
                    if name != "PYTHONDONTWRITEBYTECODE"}


def _options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="one run each, small sizes: (e), (d), (a), (c) at 5 hosts")
    parser.add_argument("--runs", type=int, help="runs per tool (default 5, quick 1)")
    parser.add_argument("--scenario", action="append", default=[], metavar="KEY",
                        help="only these scenarios: e, d, a, b, g, c5, c50, c200, c1000")
    parser.add_argument("--no-anchors", action="store_true",
                        help="play and the floors only (no ansible, no pyinfra)")
    parser.add_argument("--skip-tool", action="append", default=[], metavar="NAME",
                        help="leave this tool out (e.g. ansible at 1000 hosts)")
    parser.add_argument("--keep-lab", action="store_true", help="leave the lab up at the end")
    parser.add_argument("--json", type=Path, help="also write every sample here")
    return parser.parse_args(argv)


def _measure(tool: Tool, target: Target, scenario: Scenario, workdir: Path,
             results: dict[report.Key, list[Sample]]) -> None:
    is_capped = tool.name in ANCHORS and scenario.workload.hosts >= LARGE_HOSTS
    for phase in scenario.phases:
        invocation = tool.invocation(target, scenario.workload, phase, workdir)
        sample = run_measured(invocation.argv, env={**TOOL_ENVIRONMENT, **invocation.env},
                              timeout=ANCHOR_CAP if is_capped else TOOL_TIMEOUT)
        if is_capped and sample.wall >= ANCHOR_CAP and sample.exit_status != 0:
            sample = dataclasses.replace(sample, exit_status=TIMED_OUT, output_tail=(
                f"did not finish within {ANCHOR_CAP / 60:.0f} minutes"))
        if sample.exit_status == 0 and scenario.workload.kind == "containers":
            problem = lab.check_containers(target, scenario.workload, phase.image)
            if problem is not None:
                sample = dataclasses.replace(sample, exit_status=WRONG_RESULT,
                                             output_tail=problem)
        results.setdefault((scenario.key, phase.name, tool.name), []).append(sample)
        status = "" if sample.exit_status == 0 else f"  FAILED ({sample.exit_status}):\n" \
            f"{sample.output_tail}"
        print(f"  {scenario.key} {phase.name:<7} {tool.name:<20} {sample.wall:8.3f} s "
              f"{sample.peak_rss_kb / 1024:7.0f} MB {sample.cpu:7.3f} s CPU{status}",
              file=sys.stderr, flush=True)


def run_scenario(scenario: Scenario, tools: list[Tool], runs: int, workdir: Path,
                 results: dict[report.Key, list[Sample]], notes: list[str]) -> None:
    print(f"bench: ({scenario.key}) {scenario.title}", file=sys.stderr, flush=True)
    target = lab.lab_up(scenario.workload, workdir)
    if scenario.workload.kind == "load":
        from bench.zero_downtime import run_zero_downtime

        notes.extend(run_zero_downtime(target, workdir))
        return
    is_containers = scenario.workload.kind == "containers"
    if is_containers:
        lab.make_app_images(target)
    chosen = [tool for tool in tools if tool.supports(scenario.workload)]
    for run in range(runs):
        # round robin: every tool goes first once in a while, so drift is shared
        for tool in chosen[run % len(chosen):] + chosen[:run % len(chosen)]:
            if run and tool.name in ANCHORS and scenario.workload.hosts >= LARGE_HOSTS:
                continue  # once is enough to place play against them at this size
            if is_containers:
                lab.remove_bench_containers(target)
            _measure(tool, target, scenario, workdir, results)
    if is_containers:
        lab.remove_bench_containers(target)
    if scenario.key == "d":
        # the per-command price of Fabric's Connection.run over a raw channel
        pair = subprocess.run([sys.executable, "-m", "bench.runner_pair",
                               str(target.inventory)], capture_output=True, text=True,
                              env=TOOL_ENVIRONMENT, check=False, timeout=300)
        print(f"  d runner pair: {pair.stdout.strip() or pair.stderr.strip()}",
              file=sys.stderr, flush=True)
        notes.append(f"runner pair (d hosts): {pair.stdout.strip()}")


def main(argv: list[str] | None = None) -> int:
    options = _options(sys.argv[1:] if argv is None else argv)
    if os.geteuid() != 0:
        print("python -m bench needs root: it runs `play lab up`", file=sys.stderr)
        return 1
    runs = options.runs or (1 if options.quick else 5)
    scenarios = [scenario for scenario in all_scenarios(options.quick)
                 if not options.scenario or scenario.key in options.scenario]
    tools = [tool for tool in TOOLS if not (options.no_anchors and tool.name in ANCHORS)
             and tool.name not in options.skip_tool]
    if any(tool.name in ANCHORS for tool in tools):
        ensure_anchors()
    # as pip does for an installed package, so play's first sample pays no compiling either
    compileall.compile_dir(str(Path(engine.__file__).parent), quiet=1)
    workdir = Path(tempfile.mkdtemp(prefix="play-bench-"))
    results: dict[report.Key, list[Sample]] = {}
    notes: list[str] = []
    try:
        for scenario in scenarios:
            run_scenario(scenario, tools, runs, workdir, results, notes)
    finally:
        if not options.keep_lab:
            lab.lab_down()
        shutil.rmtree(workdir, ignore_errors=True)
    sys.stdout.write(report.table(scenarios, results))
    print()
    print("\n".join(report.check_targets(scenarios, results)))
    print("\n".join(notes))
    if options.json:
        options.json.write_text(json.dumps(
            [{"scenario": s, "phase": p, "tool": t, "wall": x.wall, "peak_rss_kb": x.peak_rss_kb,
              "cpu": x.cpu, "exit_status": x.exit_status}
             for (s, p, t), xs in results.items() for x in xs],
            indent=1) + "\n")
    failed = any(x.exit_status not in (0, TIMED_OUT) for xs in results.values() for x in xs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
