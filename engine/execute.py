"""The scheduler: walk the plan graph concurrently. A node starts as soon as every
node it waits for has succeeded, bounded by `forks` (hosts with work in flight) and
a per-host limit of concurrent commands; a failure skips its dependents and nothing
else. What a node *does* is the `run_node` callback; the scheduler only orders.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from engine.results import StepResult

Node = tuple[str, str]
RunNode = Callable[[Node], StepResult]
Veto = Callable[[Node], str | None]  # a reason not to start this node, or None


@dataclass(frozen=True)
class Limits:
    forks: int = 50
    per_host: int = 8


class HostUnreachable(Exception):
    """Raised by `run_node` when its host cannot be reached: the host's other nodes
    are then reported unreachable without being tried."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _skipped(node: Node, reason: str) -> StepResult:
    return StepResult(node[0], node[1], "skipped", msg=reason, is_blocked=True)


class Scheduler:
    def __init__(self, graph: Any, run_node: RunNode, limits: Limits,
                 on_start: Callable[[Node], None] = lambda node: None,
                 on_end: Callable[[StepResult], None] = lambda result: None,
                 veto: Veto = lambda node: None, describe: Callable[[Node], str] = str,
                 stop: threading.Event | None = None,
                 stop_reason: Callable[[], str] = lambda: "the run was interrupted") -> None:
        self.graph = graph
        self.run_node = run_node
        self.limits = limits
        self.on_start = on_start
        self.on_end = on_end
        self.veto = veto
        self.describe = describe
        self.stop = stop or threading.Event()
        self.stop_reason = stop_reason  # what set `stop`: a signal, or a lost deploy lock
        self.results: dict[Node, StepResult] = {}
        self.waiting_on = {node: graph.in_degree(node) for node in graph.nodes}
        # (successor, is_hard) per node, read once: networkx's edge views cost per access
        self.successors: dict[Node, list[tuple[Node, bool]]] = {node: [] for node in graph.nodes}
        for before, after, is_hard in graph.edges(data="hard", default=True):
            self.successors[before].append((after, is_hard))
        self.ready: list[Node] = sorted(node for node, count in self.waiting_on.items()
                                        if count == 0)
        self.in_flight: dict[str, int] = {}
        self.unreachable: dict[str, str] = {}

    def run(self) -> dict[Node, StepResult]:
        workers = max(1, min(self.limits.forks * self.limits.per_host, 256))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="play") as pool:
            running: dict[Future[StepResult], Node] = {}
            while len(self.results) < self.graph.number_of_nodes():
                self._start_ready(pool, running)
                if not running:
                    if self.ready:
                        continue
                    break  # nothing can start: the rest waits on skipped work
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    node = running.pop(future)
                    self.in_flight[node[0]] -= 1
                    self._finish(node, self._result_of(node, future))
        for node in self.graph.nodes:  # stopped or blocked: say why, never leave a gap
            if node not in self.results:
                self._record(_skipped(node, f"not started: {self.stop_reason()}"
                                      if self.stop.is_set() else "not started"))
        return self.results

    def _result_of(self, node: Node, future: Future[StepResult]) -> StepResult:
        try:
            return future.result()
        except HostUnreachable as error:
            self.unreachable.setdefault(node[0], error.message)
            return StepResult(node[0], node[1], "unreachable", msg=error.message)
        except Exception as error:
            # the one broad catch, at the boundary: a bug in one step must not unwind
            # the scheduler and leave other hosts half-done (and the lock held)
            detail = "".join(traceback.format_exception_only(error)).strip()
            return StepResult(node[0], node[1], "failed", msg=f"internal error: {detail}")

    def _may_start(self, host: str) -> bool:
        busy_hosts = sum(1 for count in self.in_flight.values() if count)
        if self.in_flight.get(host, 0) >= self.limits.per_host:
            return False
        return self.in_flight.get(host, 0) > 0 or busy_hosts < self.limits.forks

    def _start_ready(self, pool: ThreadPoolExecutor,
                     running: dict[Future[StepResult], Node]) -> None:
        waiting: list[Node] = []
        for node in self.ready:
            host = node[0]
            if self.stop.is_set():
                self._record(_skipped(node, f"not started: {self.stop_reason()}"))
                continue
            if host in self.unreachable:
                self._finish(node, StepResult(host, node[1], "unreachable",
                                              msg=self.unreachable[host]))
                continue
            reason = self.veto(node)
            if reason is not None:
                self._finish(node, _skipped(node, reason))
                continue
            if not self._may_start(host):
                waiting.append(node)
                continue
            self.in_flight[host] = self.in_flight.get(host, 0) + 1
            self.on_start(node)
            running[pool.submit(self.run_node, node)] = node
        self.ready = waiting if not self.stop.is_set() else []

    def _record(self, result: StepResult) -> None:
        node = (result.host, result.step)
        if node not in self.results:
            self.results[node] = result
            self.on_end(result)

    def _finish(self, node: Node, result: StepResult) -> None:
        """Record a result and release what waits for it. A node that did not succeed
        skips what needs it (hard edges) and only releases what merely comes after it
        (soft edges: another host's next batch or play)."""
        self._record(result)
        pending = [(node, result)]
        while pending:
            done, outcome = pending.pop()
            for successor, is_hard in self.successors[done]:
                if successor in self.results:
                    continue
                if outcome.lets_dependents_run or not is_hard:
                    self.waiting_on[successor] -= 1
                    if self.waiting_on[successor] == 0:
                        self.ready.append(successor)
                    continue
                reason = (f"skipped: needs {self.describe(done)} on {done[0]}, which "
                          + ("was skipped" if outcome.status == "skipped" else outcome.status))
                skipped = _skipped(successor, reason)
                self._record(skipped)
                pending.append((successor, skipped))


