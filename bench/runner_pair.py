"""The cost of Fabric's `Connection.run` per command against a raw channel of the same
connection: play's tuned runner (engine/connection/runners.py), invoke's own runner, and
the raw channel, interleaved command by command on the lab's hosts (connections open).

    python -m bench.runner_pair INVENTORY [COMMANDS_PER_HOST]
Prints one JSON line: the median milliseconds per command of each, and the differences.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import fabric
import yaml
from fabric.runners import Remote

from bench.tools.stack_floor import run as raw_channel_run
from engine.connection.runners import FastRemote, Feed
from engine.connection.settings import ConnectionSettings, Endpoint
from engine.connection.ssh import SSHConnection

Way = Callable[[fabric.Connection, str], object]


def _through(runner: type[Remote]) -> Way:
    def run(connection: fabric.Connection, line: str) -> object:
        connection.config.runners.remote = runner
        return connection.run(line, in_stream=Feed(b""), warn=True, hide=True)
    return run


def main(argv: list[str]) -> int:
    group = yaml.safe_load(Path(argv[0]).read_text())["all"]["children"]["lab"]
    per_host = int(argv[1]) if len(argv) > 1 else 20
    ways: dict[str, Way] = {"raw channel": raw_channel_run, "Connection.run (play's runner)":
                            _through(FastRemote), "Connection.run (invoke's runner)":
                            _through(Remote)}
    timings: dict[str, list[float]] = {name: [] for name in ways}
    connections = [SSHConnection(ConnectionSettings(
        host=name, connection="ssh", endpoint=Endpoint(values["address"], 22,
                                                        group["vars"]["user"]),
        key_files=(group["vars"]["ssh_key"],), known_hosts=group["vars"]["known_hosts"],
        host_key_policy="strict", jumps=(), proxy_command=None, connect_timeout=10,
        command_timeout=None, become=False, become_password=None)).fabric
        for name, values in group["hosts"].items()]
    try:
        for connection in connections:
            for _ in range(per_host):
                for name, way in ways.items():
                    started = time.perf_counter()
                    way(connection, "echo play")
                    timings[name].append((time.perf_counter() - started) * 1000)
    finally:
        for connection in connections:
            connection.close()
    medians = {name: round(statistics.median(values), 3) for name, values in timings.items()}
    raw = medians["raw channel"]
    print(json.dumps({"commands": per_host * len(connections), "median_ms": medians,
                      "over_raw_ms": {name: round(value - raw, 3)
                                      for name, value in medians.items() if value != raw}}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
