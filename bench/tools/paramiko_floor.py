"""The paramiko floor, run as its own process: one transport per host over a socket with
TCP_NODELAY, each host's command lines over channels (`parallel` at once), hosts in
parallel or one after another (rolling). It does no more than the work itself.

    python paramiko_floor.py SPEC.json
SPEC: {"user", "key", "known_hosts", "parallel", "rolling", "hosts": [{"address",
"commands": ["remote command line", ...]}]}. Standalone: it imports nothing of the bench.
"""

from __future__ import annotations

import functools
import json
import socket
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

# paramiko.config imports invoke whenever it is installed (fabric, a dependency of play,
# installs it), for `Match exec` only: ~0.1 s and ~7 MB that are no part of the work. A
# floor run beside play would pay them, a paramiko script in its own venv would not.
sys.modules["invoke"] = None  # type: ignore[assignment]  # `import invoke` -> ImportError

import paramiko  # noqa: E402 - after the line above

# As play (engine/connection/ssh.py HANDSHAKES_AT_ONCE): a handshake is Python CPU under
# the GIL, and 1000 started at once all finish past the connect timeout. The known_hosts
# file is parsed once, not once per host (1000 hosts parsing 1000 lines each is the
# quadratic cost that kept this floor from finishing at 1000 hosts).
HANDSHAKES = threading.BoundedSemaphore(64)


@functools.cache
def known_hosts(path: str) -> paramiko.HostKeys:
    return paramiko.HostKeys(path)


@functools.cache
def private_key(path: str) -> paramiko.Ed25519Key:
    return paramiko.Ed25519Key.from_private_key_file(path)


def connect(address: str, spec: dict[str, Any]) -> paramiko.Transport:
    with HANDSHAKES:
        sock = socket.create_connection((address, 22), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport = paramiko.Transport(sock)
        transport.start_client(timeout=10)
        known = known_hosts(spec["known_hosts"])
        offered = transport.get_remote_server_key()
        if known.check(address, offered) is not True:
            raise SystemExit(f"{address}: host key not in {spec['known_hosts']}")
        transport.auth_publickey(spec["user"], private_key(spec["key"]))
    return transport


def run(transport: paramiko.Transport, line: str) -> int:
    channel = transport.open_session()
    try:
        channel.exec_command(line)
        channel.shutdown_write()
        while channel.recv(65536):
            pass
        while channel.recv_stderr(65536):
            pass
        return channel.recv_exit_status()
    finally:
        channel.close()


def work_on(host: dict[str, Any], spec: dict[str, Any]) -> int:
    transport = connect(host["address"], spec)
    try:
        if spec["parallel"] == 1:
            return max((run(transport, line) for line in host["commands"]), default=0)
        with ThreadPoolExecutor(spec["parallel"]) as channels:
            return max(channels.map(lambda line: run(transport, line), host["commands"]),
                       default=0)
    finally:
        transport.close()


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as source:
        spec = json.load(source)
    hosts = spec["hosts"]
    # parsed here, before the threads: 1000 threads missing the cache at once each parsed
    # the file (paramiko takes logging's module lock per line: they queued on it for minutes)
    known_hosts(spec["known_hosts"])
    private_key(spec["key"])
    if spec["rolling"]:
        return max(work_on(host, spec) for host in hosts)
    with ThreadPoolExecutor(len(hosts)) as pool:
        return max(pool.map(lambda host: work_on(host, spec), hosts))


if __name__ == "__main__":
    sys.exit(main())
