"""The scheduler with fake steps: order, concurrency bounds, skip propagation."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

import networkx as nx

from engine.errors import UnreachableError
from engine.execute import BARRIER_HOST, Limits, Node, Scheduler
from engine.results import StepResult


class FakeSteps:
    """Records start/end order and the peak concurrency, overall and per host."""

    def __init__(self, failing: set[Node] = frozenset(), unreachable: set[str] = frozenset(),
                 duration: float = 0.01) -> None:
        self.failing = failing
        self.unreachable = unreachable
        self.duration = duration
        self.lock = threading.Lock()
        self.started: list[Node] = []
        self.finished: list[Node] = []
        self.running: dict[str, int] = {}
        self.peak_per_host = 0
        self.peak_hosts = 0

    def __call__(self, node: Node) -> StepResult:
        host = node[0]
        if host in self.unreachable:
            raise UnreachableError(f"{host} is down")
        with self.lock:
            self.started.append(node)
            self.running[host] = self.running.get(host, 0) + 1
            self.peak_per_host = max(self.peak_per_host, self.running[host])
            self.peak_hosts = max(self.peak_hosts, sum(1 for n in self.running.values() if n))
        time.sleep(self.duration)
        with self.lock:
            self.running[host] -= 1
            self.finished.append(node)
        status = "failed" if node in self.failing else "ok"
        return StepResult(host, node[1], status)


def chain(graph: nx.DiGraph, host: str, steps: list[str]) -> None:
    for before, after in itertools.pairwise(steps):
        graph.add_edge((host, before), (host, after), hard=True)
    for step in steps:
        graph.add_node((host, step))


def run(graph: nx.DiGraph, steps: Callable[[Node], StepResult], **limits: int
        ) -> dict[Node, StepResult]:
    return Scheduler(graph, steps, Limits(**limits)).run()


def test_steps_on_a_host_run_in_order_and_hosts_run_side_by_side() -> None:
    graph = nx.DiGraph()
    for host in ("a", "b", "c"):
        chain(graph, host, ["one", "two", "three"])
    steps = FakeSteps(duration=0.02)
    results = run(graph, steps)
    assert all(result.status == "ok" for result in results.values())
    for host in ("a", "b", "c"):
        order = [step for h, step in steps.finished if h == host]
        assert order == ["one", "two", "three"]
    assert steps.peak_hosts == 3


def test_forks_bounds_the_hosts_with_work_in_flight() -> None:
    graph = nx.DiGraph()
    for host in "abcdef":
        chain(graph, host, ["one", "two"])
    steps = FakeSteps()
    run(graph, steps, forks=2)
    assert steps.peak_hosts == 2
    assert len(steps.finished) == 12


def test_per_host_limit_bounds_concurrent_steps_on_one_host() -> None:
    graph = nx.DiGraph()
    for index in range(10):
        graph.add_node(("a", f"step{index}"))
    steps = FakeSteps(duration=0.03)
    run(graph, steps, per_host=3)
    assert steps.peak_per_host == 3


def test_a_failure_skips_its_dependents_and_nothing_else() -> None:
    graph = nx.DiGraph()
    for host in ("a", "b"):
        chain(graph, host, ["one", "two", "three"])
    graph.add_node(("a", "independent"))
    results = run(graph, FakeSteps(failing={("a", "two")}))
    assert results[("a", "two")].status == "failed"
    assert results[("a", "three")].status == "skipped"
    assert "two" in results[("a", "three")].msg
    assert results[("a", "independent")].status == "ok"
    assert all(results[("b", step)].status == "ok" for step in ("one", "two", "three"))


def test_a_soft_edge_only_orders_it_does_not_propagate_failure() -> None:
    graph = nx.DiGraph()
    chain(graph, "a", ["one"])
    chain(graph, "b", ["one"])
    graph.add_edge(("a", "one"), ("b", "one"), hard=False)  # e.g. the next serial batch
    steps = FakeSteps(failing={("a", "one")})
    results = run(graph, steps)
    assert results[("b", "one")].status == "ok"
    assert steps.finished.index(("a", "one")) < steps.finished.index(("b", "one"))


def test_skips_propagate_through_chains_of_hard_edges() -> None:
    graph = nx.DiGraph()
    chain(graph, "a", ["one", "two"])
    graph.add_edge(("a", "two"), ("b", "needs two"), hard=True)
    graph.add_edge(("b", "needs two"), ("b", "then"), hard=True)
    results = run(graph, FakeSteps(failing={("a", "one")}))
    assert results[("b", "needs two")].status == "skipped"
    assert results[("b", "then")].status == "skipped"


def test_unreachable_host_is_reported_and_others_complete() -> None:
    graph = nx.DiGraph()
    for host in ("a", "b"):
        chain(graph, host, ["one", "two"])
    results = run(graph, FakeSteps(unreachable={"a"}))
    assert results[("a", "one")].status == "unreachable"
    assert results[("a", "two")].status == "skipped"
    assert results[("b", "two")].status == "ok"


def test_veto_skips_a_node_and_its_dependents() -> None:
    graph = nx.DiGraph()
    chain(graph, "a", ["one", "two"])
    results = Scheduler(graph, FakeSteps(), Limits(),
                        veto=lambda node: "stop" if node[1] == "one" else None).run()
    assert results[("a", "one")].status == "skipped"
    assert results[("a", "two")].status == "skipped"


def test_stop_event_starts_nothing_new_but_finishes_what_runs() -> None:
    graph = nx.DiGraph()
    chain(graph, "a", ["one", "two", "three"])
    stop = threading.Event()

    def stop_after_first(node: Node) -> StepResult:
        stop.set()
        return StepResult(node[0], node[1], "ok")

    results = Scheduler(graph, stop_after_first, Limits(), stop=stop).run()
    assert results[("a", "one")].status == "ok"
    assert results[("a", "two")].status == "skipped"
    assert "interrupted" in results[("a", "two")].msg


def test_a_bug_in_one_step_fails_that_step_and_the_run_goes_on() -> None:
    graph = nx.DiGraph()
    chain(graph, "a", ["one", "two"])
    chain(graph, "b", ["one"])

    def buggy(node: Node) -> StepResult:
        if node == ("a", "one"):
            raise KeyError("oops")
        return StepResult(node[0], node[1], "ok")

    results = Scheduler(graph, buggy, Limits()).run()
    assert results[("a", "one")].status == "failed"
    assert "internal error" in results[("a", "one")].msg
    assert results[("a", "two")].status == "skipped"
    assert results[("b", "one")].status == "ok"


def test_a_barrier_orders_without_running_or_reporting_and_lets_failures_pass() -> None:
    graph = nx.DiGraph()
    for host in "ab":
        chain(graph, host, ["one"])
    for host in "cd":
        chain(graph, host, ["two"])
    barrier = (BARRIER_HOST, "0/batch/1")
    for host in "ab":
        graph.add_edge((host, "one"), barrier, hard=False)
    for host in "cd":
        graph.add_edge(barrier, (host, "two"), hard=False)
    steps = FakeSteps(failing={("a", "one")})
    ended: list[StepResult] = []
    results = Scheduler(graph, steps, Limits(), on_end=ended.append).run()
    assert barrier not in results and barrier not in steps.started
    assert {(result.host, result.step) for result in ended} == set(results)
    assert results[("c", "two")].status == results[("d", "two")].status == "ok"
    assert min(steps.finished.index(("c", "two")), steps.finished.index(("d", "two"))) > max(
        steps.finished.index(("a", "one")), steps.finished.index(("b", "one")))
