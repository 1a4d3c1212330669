"""Scenario (f), planning at scale: `python -m bench.planning [--hosts N,...] [--runs R]`.

No lab and no SSH: an INI inventory of N hosts (addresses in 127.1.0.0/16, never
contacted) and a rolling playbook of 5 command tasks and 1 container, `serial: "10%"`.
Per size it measures, medians of R runs:

- `play graph`: wall time and peak RSS of the process (bench/measure.py);
- the run's preparation (load, plan, pre-run checks, connection settings: everything
  before the first SSH byte), in a process of its own;
- a simulated run: the scheduler and the task runner over the same plan, with a stand-in
  connection that answers every command at once (container steps are stubbed), so the
  control node's own CPU per node is what is measured.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.measure import run_measured

PLAYBOOK = """\
- name: rolling
  hosts: web
  serial: "10%"
  tasks:
    - {name: one, command: echo 1}
    - {name: two, command: echo 2}
    - {name: three, command: echo 3}
    - {name: four, command: echo 4}
    - {name: five, command: echo 5}
  containers:
    - {name: app, image: busybox, command: [httpd, -f]}
"""

# Runs in a process of its own: prints {"prepare": s, "simulated_cpu": s, "nodes": n}.
PROBE = r"""
import json, sys, time
from engine.commands.options import read_inventory as _load_inventory
from engine.connection.base import CommandResult, Connection
from engine.execute import Limits, Scheduler
from engine.results import StepResult
from engine.run import RunOptions, prepare
from engine.tasks import StepOptions, StepRunner

class StandIn(Connection):
    def __init__(self, host):
        self.host = host
    def run(self, argv, *, stdin=None, timeout=None, become=False, become_user=None):
        return CommandResult(" ".join(argv), 0, "", "", 0.0)
    def close(self):
        pass

class StandInPool:
    def __init__(self):
        self.connections = {}
    def get(self, host):
        return self.connections.setdefault(host, StandIn(host))
    def mark_lost(self, host, reason):
        pass

started = time.perf_counter()
prepared = prepare(RunOptions(playbook=sys.argv[1], inventories=(sys.argv[2],)),
                   _load_inventory)
prepare_time = time.perf_counter() - started
runner = StepRunner(prepared.plan, prepared.inventory, {}, StandInPool(), StepOptions())
runner.other_kinds = {"container": lambda node, scope: StepResult(node[0], node[1], "ok")}
cpu = time.process_time()
results = Scheduler(prepared.plan.graph, runner, Limits(forks=50)).run()
cpu = time.process_time() - cpu
assert all(result.status in ("ok", "changed") for result in results.values()), "a step failed"
print(json.dumps({"prepare": prepare_time, "simulated_cpu": cpu, "nodes": len(results)}))
"""


def write_inventory(path: Path, hosts: int) -> None:
    first = ipaddress.ip_address("127.1.0.1")
    path.write_text("[web]\n" + "".join(f"h{index} address={first + index}\n"
                                        for index in range(hosts)))


def measure(hosts: int, runs: int, workdir: Path) -> dict[str, float]:
    inventory, playbook = workdir / f"hosts{hosts}.ini", workdir / "rolling.yml"
    write_inventory(inventory, hosts)
    playbook.write_text(PLAYBOOK)
    graph_walls, graph_rss, prepares, cpus = [], [], [], []
    nodes = 0
    for _ in range(runs):
        sample = run_measured([sys.executable, "-m", "engine", "graph", str(playbook),
                               "-i", str(inventory)])
        if sample.exit_status != 0:
            raise SystemExit(f"play graph failed at {hosts} hosts:\n{sample.output_tail}")
        graph_walls.append(sample.wall)
        graph_rss.append(sample.peak_rss_kb)
        probe = subprocess.run([sys.executable, "-c", PROBE, str(playbook), str(inventory)],
                               capture_output=True, text=True, check=True)
        figures = json.loads(probe.stdout.splitlines()[-1])
        prepares.append(figures["prepare"])
        cpus.append(figures["simulated_cpu"])
        nodes = figures["nodes"]
    return {"hosts": hosts, "nodes": nodes,
            "graph_s": statistics.median(graph_walls),
            "graph_mb": statistics.median(graph_rss) / 1024,
            "prepare_s": statistics.median(prepares),
            "prepare_us_per_host": statistics.median(prepares) / hosts * 1e6,
            "simulated_us_per_node": statistics.median(cpus) / nodes * 1e6}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.planning", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", default="1000,10000,50000",
                        help="comma-separated sizes (default 1000,10000,50000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per size (default 3)")
    options = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="play-bench-f-") as folder:
        for hosts in (int(size) for size in options.hosts.split(",")):
            rows.append(measure(hosts, options.runs, Path(folder)))
    print(f"(f) planning at scale, 5 tasks + 1 container, serial 10%, medians of "
          f"{options.runs}")
    print(f"{'hosts':>7} {'nodes':>7} {'graph s':>8} {'graph MB':>9} {'prepare s':>10} "
          f"{'us/host':>8} {'sim us/node':>12}")
    for row in rows:
        print(f"{row['hosts']:>7} {row['nodes']:>7} {row['graph_s']:>8.2f} "
              f"{row['graph_mb']:>9.0f} {row['prepare_s']:>10.2f} "
              f"{row['prepare_us_per_host']:>8.0f} {row['simulated_us_per_node']:>12.1f}")
    if len(rows) > 1:
        growth = rows[-1]["prepare_us_per_host"] / rows[0]["prepare_us_per_host"]
        print(f"planning cost per host, {rows[-1]['hosts']} vs {rows[0]['hosts']} hosts: "
              f"{growth:.2f}x (target: at most 1.20x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
