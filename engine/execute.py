"""The scheduler: walk the plan graph concurrently. A node starts as soon as every
node it waits for has succeeded, bounded by `forks` (hosts with work in flight) and
a per-host limit of concurrent commands; a failure skips its dependents and nothing
else. What a node *does* is the `run_node` callback; the scheduler only orders.
"""

from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.errors import UnreachableError
from engine.results import StepResult

Node = tuple[str, str]  # (host name, step id): one step on one host, as the plan makes it
# A barrier node runs nothing and reports nothing: it finishes once everything before it
# has, so that "all of these before all of those" is one node and a few edges.
BARRIER_HOST = ""


def is_barrier(node: Node) -> bool:
    return node[0] == BARRIER_HOST

RunNode = Callable[[Node], StepResult]
Veto = Callable[[Node], str | None]  # a reason not to start this node, or None
# A finished node: its result, and the reason its host is lost when the connection broke
Completion = tuple[Node, StepResult, str | None]


@dataclass(frozen=True)
class Limits:
    forks: int = 50
    per_host: int = 8


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
        # block / rescue (plan/builder.py): a node behind a `rescue` edge runs only if one of the
        # nodes it rescues did not succeed, and is skipped (unseen) otherwise
        # (a plan without blocks pays nothing for them: `has_rescue` is the plan's word)
        self.rescues: dict[Node, list[Node]] = {}
        self.is_rescuing: dict[Node, bool] = {}
        if graph.graph.get("has_rescue"):
            for before, after, is_rescue in graph.edges(data="rescue", default=False):
                if is_rescue:
                    self.rescues.setdefault(before, []).append(after)
                    self.is_rescuing[after] = False
        for before, after, is_hard in graph.edges(data="hard", default=True):
            if not self.rescues or after not in self.rescues.get(before, ()):
                self.successors[before].append((after, is_hard))
        self.in_flight: dict[str, int] = {}
        self.busy_hosts = 0                 # hosts with work in flight (bounded by forks)
        self.unreachable: dict[str, str] = {}
        # Nodes ready to start, by host, in the order their hosts became ready. A host with
        # work in flight may start more at once (up to per_host); an idle one needs a fork.
        # Kept apart so that each round looks only at what can start, never at every ready
        # node of a big batch (that made a run quadratic in its hosts).
        self.ready_busy: dict[str, list[Node]] = {}
        self.ready_idle: dict[str, list[Node]] = {}
        for node in sorted(node for node, count in self.waiting_on.items() if count == 0):
            self._make_ready(node)

    def run(self) -> dict[Node, StepResult]:
        """Run the graph; the results of its (host, step) nodes (barriers left out)."""
        workers = _Workers(self._outcome, max(1, min(self.limits.forks * self.limits.per_host,
                                                    256)))
        try:
            while len(self.results) < self.graph.number_of_nodes():
                self._start_ready(workers)
                if not workers.in_flight:
                    if self.ready_busy or self.ready_idle:
                        continue
                    break  # nothing can start: the rest waits on skipped work
                node, result, lost = workers.completed.get()
                while True:
                    workers.in_flight -= 1
                    if lost is not None:
                        self.unreachable.setdefault(node[0], lost)
                    self._leave(node[0])
                    self._finish(node, result)
                    try:
                        node, result, lost = workers.completed.get_nowait()
                    except queue.Empty:
                        break
        finally:
            workers.close()
        for node in self.graph.nodes:  # stopped or blocked: say why, never leave a gap
            if node not in self.results:
                self._record(_skipped(node, f"not started: {self.stop_reason()}"
                                      if self.stop.is_set() else "not started"))
        return {node: result for node, result in self.results.items() if not is_barrier(node)}

    def _outcome(self, node: Node) -> Completion:
        """What running the node gave, and why its host is lost if it is; in a worker."""
        try:
            return node, self.run_node(node), None
        except UnreachableError as error:
            return node, StepResult(node[0], node[1], "unreachable", msg=error.message), \
                error.message
        except Exception as error:
            # the one broad catch, at the boundary: a bug in one step must not unwind
            # the scheduler and leave other hosts half-done (and the lock held)
            detail = "".join(traceback.format_exception_only(error)).strip()
            return node, StepResult(node[0], node[1], "failed",
                                    msg=f"internal error: {detail}"), None

    def _make_ready(self, node: Node) -> None:
        host = node[0]
        if self.is_rescuing and self.is_rescuing.get(node) is False:
            self._finish(node, StepResult(host, node[1], "skipped", msg="nothing to rescue",
                                          is_hidden=True))
        elif is_barrier(node):
            # nothing to run: it is done as soon as it is ready
            self._finish(node, StepResult(host, node[1], "ok"))
        elif self.in_flight.get(host, 0):
            self.ready_busy.setdefault(host, []).append(node)
        else:
            self.ready_idle.setdefault(host, []).append(node)

    def _enter(self, host: str) -> None:
        if not self.in_flight.get(host, 0):
            self.busy_hosts += 1
            waiting = self.ready_idle.pop(host, None)
            if waiting:
                self.ready_busy.setdefault(host, []).extend(waiting)
        self.in_flight[host] = self.in_flight.get(host, 0) + 1

    def _leave(self, host: str) -> None:
        self.in_flight[host] -= 1
        if not self.in_flight[host]:
            self.busy_hosts -= 1
            waiting = self.ready_busy.pop(host, None)
            if waiting:  # it needs a fork again, behind the hosts that waited for one
                self.ready_idle.setdefault(host, []).extend(waiting)

    def _start_ready(self, workers: _Workers) -> None:
        if self.stop.is_set():
            for ready in (self.ready_busy, self.ready_idle):
                for nodes in ready.values():
                    for node in nodes:
                        self._record(_skipped(node, f"not started: {self.stop_reason()}"))
                ready.clear()
            return
        for host in list(self.ready_busy):
            self._start_on(host, self.ready_busy, workers)
        while self.ready_idle and self.busy_hosts < self.limits.forks:
            host = next(iter(self.ready_idle))
            self._start_on(host, self.ready_idle, workers)
        # an unreachable or vetoed node needs no fork: settle those of waiting hosts too
        for host in [host for host in self.ready_idle if host in self.unreachable]:
            self._start_on(host, self.ready_idle, workers)

    def _start_on(self, host: str, ready: dict[str, list[Node]], workers: _Workers) -> None:
        """Start what `host` may start of its ready nodes; keep the rest where they wait."""
        nodes = ready.pop(host)
        while nodes:
            node = nodes[0]
            if host in self.unreachable:
                nodes.pop(0)
                self._finish(node, StepResult(host, node[1], "unreachable",
                                              msg=self.unreachable[host]))
                continue
            if self.in_flight.get(host, 0) >= self.limits.per_host or (
                    not self.in_flight.get(host, 0) and self.busy_hosts >= self.limits.forks):
                break
            nodes.pop(0)
            reason = self.veto(node)
            if reason is not None:
                self._finish(node, _skipped(node, reason))
                continue
            self._enter(host)
            self.on_start(node)
            workers.start(node)
        if nodes:
            # what finishing nodes above made ready meanwhile went to the right dict
            waiting = self.ready_busy if self.in_flight.get(host, 0) else self.ready_idle
            waiting[host] = nodes + waiting.pop(host, [])

    def _record(self, result: StepResult) -> None:
        node = (result.host, result.step)
        if node not in self.results:
            self.results[node] = result
            if not is_barrier(node):
                self.on_end(result)

    def _finish(self, node: Node, result: StepResult) -> None:
        """Record a result and release what waits for it. A node that did not succeed
        skips what needs it (hard edges) and only releases what merely comes after it
        (soft edges: another host's next batch or play)."""
        self._record(result)
        pending = [(node, result)]
        while pending:
            done, outcome = pending.pop()
            for rescuer in self.rescues.get(done, ()) if self.rescues else ():
                if rescuer in self.results:
                    continue
                if (outcome.status == "failed" and not outcome.is_ignored) or outcome.is_blocked:
                    self.is_rescuing[rescuer] = True
                self.waiting_on[rescuer] -= 1
                if self.waiting_on[rescuer] == 0:
                    self._make_ready(rescuer)
            for successor, is_hard in self.successors[done]:
                if successor in self.results:
                    continue
                if outcome.lets_dependents_run or not is_hard:
                    self.waiting_on[successor] -= 1
                    if self.waiting_on[successor] == 0:
                        self._make_ready(successor)
                    continue
                reason = (f"skipped: needs {self.describe(done)} on {done[0]}, which "
                          + ("was skipped" if outcome.status == "skipped" else outcome.status))
                skipped = _skipped(successor, reason)
                self._record(skipped)
                pending.append((successor, skipped))


class _Workers:
    """The threads that run nodes: started as work needs them, up to `most`; each takes
    the next node from one queue and puts (node, result) on `completed`, which the
    scheduler's thread alone reads. (A ThreadPoolExecutor costs a Future, a Condition and
    a done-callback per node: about a quarter of the scheduler's CPU per node, measured
    with bench/planning.py's simulated run.)"""

    def __init__(self, outcome: Callable[[Node], Completion], most: int) -> None:
        self.outcome = outcome
        self.most = most
        self.work: queue.SimpleQueue[Node | None] = queue.SimpleQueue()
        self.completed: queue.SimpleQueue[Completion] = queue.SimpleQueue()
        self.threads: list[threading.Thread] = []
        self.in_flight = 0  # started and not yet taken from `completed`

    def start(self, node: Node) -> None:
        self.in_flight += 1
        # a worker is free only if fewer nodes are in flight than threads run: one that
        # finished but is not yet taken from `completed` counts as busy, which at worst
        # starts a thread early
        if self.in_flight > len(self.threads) and len(self.threads) < self.most:
            thread = threading.Thread(target=self._work, name=f"play-{len(self.threads)}",
                                      daemon=True)
            thread.start()
            self.threads.append(thread)
        self.work.put(node)

    def _work(self) -> None:
        while (node := self.work.get()) is not None:
            self.completed.put(self.outcome(node))

    def close(self) -> None:
        """Let every thread finish the node it runs, then end it."""
        for _ in self.threads:
            self.work.put(None)
        for thread in self.threads:
            thread.join()
