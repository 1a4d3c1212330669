"""A bounded HTTP load generator for the lab's gateway: a fixed number of GET requests,
at most a fixed time, from several client threads, each keeping one HTTP/1.1 connection
alive. It prints (and returns) requests sent, failed, the rate and p50/p99 latency.

Engine-free (the standard library only), so the end-to-end tests and the benchmark share
it. It refuses any address outside the lab's subnet and loopback: load goes nowhere else.

    python -m bench.load http://10.250.0.11:8000/ --requests 20000 --max-seconds 30
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

ALLOWED = (ipaddress.ip_network("10.250.0.0/16"), ipaddress.ip_network("127.0.0.0/8"))
# What a client retries once on a new connection: the server closed a kept-alive
# connection before answering a thing (RFC 9112 9.3.1: a GET may be retried then; every
# browser and urllib3 do). Counted apart as `retried`, never hidden.
_CLOSED_IDLE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


@dataclass
class LoadResult:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)          # of the answered, s
    failures: list[tuple[float, str]] = field(default_factory=list)  # (s after start, why)
    bodies: Counter[str] = field(default_factory=Counter)       # first line of each answer

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def summary(self, label: str = "load") -> str:
        return (f"{label}: sent {self.sent}, failed {self.failed}, retried {self.retried}, "
                f"{self.rate:.0f} req/s over {self.seconds:.1f} s, "
                f"p50 {self.percentile(0.50) * 1000:.1f} ms, "
                f"p99 {self.percentile(0.99) * 1000:.1f} ms")


def check_target(url: str) -> tuple[str, int, str]:
    """(host, port, path) of a URL on the lab's subnet or loopback; ValueError otherwise."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname is None:
        raise ValueError(f"{url!r}: an http:// URL with an address is needed")
    address = ipaddress.ip_address(parts.hostname)
    if not any(address in network for network in ALLOWED):
        raise ValueError(f"{url!r}: load goes only to the lab (10.250.0.0/16) or loopback")
    return parts.hostname, parts.port or 80, parts.path or "/"


class _Run:
    def __init__(self, host: str, port: int, path: str, requests: int, deadline: float,
                 started: float, stop: threading.Event) -> None:
        self.host, self.port, self.path = host, port, path
        self.requests, self.deadline, self.started, self.stop = (
            requests, deadline, started, stop)
        self.result = LoadResult()
        self._claimed = 0
        self._lock = threading.Lock()

    @property
    def claimed(self) -> int:
        with self._lock:
            return self._claimed

    def _claim(self) -> bool:
        with self._lock:
            if self._claimed >= self.requests or self.stop.is_set() \
                    or time.monotonic() >= self.deadline:
                return False
            self._claimed += 1
            return True

    def client(self) -> None:
        connection: http.client.HTTPConnection | None = None
        latencies: list[float] = []
        failures: list[tuple[float, str]] = []
        bodies: Counter[str] = Counter()
        retried = 0
        while self._claim():
            began = time.monotonic()
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(self.host, self.port, timeout=5)
                    body, status = _get(connection, self.path)
                else:
                    try:
                        body, status = _get(connection, self.path)
                    except _CLOSED_IDLE:
                        retried += 1
                        connection.close()
                        connection = http.client.HTTPConnection(self.host, self.port,
                                                                timeout=5)
                        body, status = _get(connection, self.path)
            except (OSError, http.client.HTTPException) as error:
                failures.append((began - self.started, f"{type(error).__name__}: {error}"))
                if connection is not None:
                    connection.close()
                connection = None
                continue
            if status != 200:
                failures.append((began - self.started, f"HTTP {status}: {body[:80]}"))
                continue
            latencies.append(time.monotonic() - began)
            bodies[body.split("\n", 1)[0].strip()] += 1
        if connection is not None:
            connection.close()
        with self._lock:
            self.result.sent += len(latencies) + len(failures)
            self.result.failed += len(failures)
            self.result.retried += retried
            self.result.latencies += latencies
            self.result.failures += failures
            self.result.bodies.update(bodies)


def _get(connection: http.client.HTTPConnection, path: str) -> tuple[str, int]:
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read().decode("utf-8", "replace")
    if response.will_close:
        connection.close()  # http.client reconnects on the next request
    return body, response.status


def run_load(url: str, requests: int, max_seconds: float, clients: int = 8) -> LoadResult:
    """Send `requests` GETs, or as many as fit in `max_seconds`."""
    with Background(url, requests, max_seconds, clients) as load:
        return load.finish(requests)


class Background:
    """Load running in a thread while something else happens: `with Background(...) as
    load: ...` then `load.finish(at_least)`: the result, once at least that many requests
    were sent (or the request count or the time ran out)."""

    def __init__(self, url: str, requests: int, max_seconds: float, clients: int = 8) -> None:
        host, port, path = check_target(url)
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._run = _Run(host, port, path, requests, self._started + max_seconds,
                         self._started, self._stop)
        self._threads = [threading.Thread(target=self._run.client, daemon=True)
                         for _ in range(clients)]

    @property
    def sent(self) -> int:
        return self._run.claimed

    @property
    def started(self) -> float:
        """time.monotonic() when the load began: failures are timed from it."""
        return self._started

    def __enter__(self) -> Background:
        for thread in self._threads:
            thread.start()
        return self

    def finish(self, at_least: int = 0) -> LoadResult:
        while self._run.claimed < at_least and any(t.is_alive() for t in self._threads):
            time.sleep(0.05)
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._run.result.seconds = time.monotonic() - self._started
        self._run.result.failures.sort()
        return self._run.result

    def __exit__(self, *exc_info: object) -> None:
        self.finish()



def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--max-seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=8)
    options = parser.parse_args(argv)
    try:
        result = run_load(options.url, options.requests, options.max_seconds, options.clients)
    except ValueError as error:
        parser.error(str(error))
    print(report(result))
    return 0 if result.failed == 0 else 1


def report(result: LoadResult, label: str = "load") -> str:
    """The summary line, the first failures with their moment, the answers by first line."""
    lines = [result.summary(label)]
    lines += [f"  failed at {when:.2f} s: {why}" for when, why in result.failures[:20]]
    lines += [f"  {count:7d} x {body}" for body, count in result.bodies.most_common(10)]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
