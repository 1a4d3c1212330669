"""The stack floor, run as its own process: the paramiko floor's work (one connection per
host, TCP_NODELAY, each host's command lines over raw channels, `parallel` at once) on
play's stack: fabric, networkx and yaml are imported before the first connection and
each host is opened with `fabric.Connection`, host key checked. The least any program
built on this stack can pay.

    python stack_floor.py SPEC.json
SPEC as paramiko_floor.py's. Standalone: it imports nothing of the bench or of play.
"""

from __future__ import annotations

import functools
import json
import socket
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import fabric
import networkx  # noqa: F401 - part of the stack's price
import paramiko
import yaml  # noqa: F401 - part of the stack's price

# As play (engine/connection/ssh.py HANDSHAKES_AT_ONCE): a handshake is Python CPU under
# the GIL, and 1000 started at once all finish past the connect timeout. The known_hosts
# file is parsed once, not once per host (1000 hosts parsing 1000 lines each is the
# quadratic cost that kept this floor from finishing at 1000 hosts).
HANDSHAKES = threading.BoundedSemaphore(64)


@functools.cache
def known_hosts(path: str) -> paramiko.HostKeys:
    return paramiko.HostKeys(path)


def connect(address: str, spec: dict[str, Any]) -> fabric.Connection:
    connection = fabric.Connection(address, user=spec["user"], gateway=False,
                                   connect_kwargs={"key_filename": [spec["key"]],
                                                   "allow_agent": False,
                                                   "look_for_keys": False, "timeout": 10})
    known = known_hosts(spec["known_hosts"])
    for key_type, key in dict(known.lookup(address) or {}).items():
        connection.client.get_host_keys().add(address, key_type, key)
    connection.client.set_missing_host_key_policy(paramiko.RejectPolicy())
    with HANDSHAKES:
        sock = socket.create_connection((address, 22), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.connect_kwargs["sock"] = sock
        connection.open()
    return connection


def run(connection: fabric.Connection, line: str) -> int:
    channel = connection.transport.open_session()
    try:
        channel.exec_command(line)
        channel.shutdown_write()
        while channel.recv(65536):
            pass
        while channel.recv_stderr(65536):
            pass
        return int(channel.recv_exit_status())
    finally:
        channel.close()


def work_on(host: dict[str, Any], spec: dict[str, Any]) -> int:
    connection = connect(host["address"], spec)
    try:
        if spec["parallel"] == 1:
            return max((run(connection, line) for line in host["commands"]), default=0)
        with ThreadPoolExecutor(spec["parallel"]) as channels:
            return max(channels.map(lambda line: run(connection, line), host["commands"]),
                       default=0)
    finally:
        connection.close()


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as source:
        spec = json.load(source)
    hosts = spec["hosts"]
    # parsed here, before the threads: 1000 threads missing the cache at once each parsed
    # the file (paramiko takes logging's module lock per line: they queued on it for minutes)
    known_hosts(spec["known_hosts"])
    if spec["rolling"]:
        return max(work_on(host, spec) for host in hosts)
    with ThreadPoolExecutor(len(hosts)) as pool:
        return max(pool.map(lambda host: work_on(host, spec), hosts))


if __name__ == "__main__":
    sys.exit(main())
