"""The plan's graph built: a node per (host, step), the edges of play order, `after`,
`depends_on`, notify, run_once, blocks' rescue, and the barriers between serial batches
and plays (SPEC: Ordering).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from engine.batches import PlayPlacement
from engine.execute import BARRIER_HOST, Node
from engine.plan.edges import EdgeKind, merge_edge_kinds
from engine.playbook import ContainerSpec, Play, Playbook, ServiceSpec, Step, TaskSpec


class GraphBuilder:
    def __init__(self, playbook: Playbook, placements: Sequence[PlayPlacement],
                 graph: Any, excluded: set[Node]) -> None:
        self.playbook = playbook
        self.excluded = excluded
        self.placements = placements
        self.graph = graph
        self.steps: dict[str, Step] = playbook.steps
        # container name -> every node that runs it, across plays
        self.container_nodes: dict[str, list[Node]] = {}
        self.nodes_by_play: dict[int, dict[str, list[Node]]] = {}  # play -> host -> nodes

    def build(self) -> None:
        for play, placement in zip(self.playbook.plays, self.placements, strict=True):
            for batch in placement.batches:
                self._add_batch(play, batch)
        for play, placement in zip(self.playbook.plays, self.placements, strict=True):
            for host in placement.hosts:
                self._add_host_edges(play, host)
            self._add_batch_edges(play, placement)
        self._add_play_edges()

    def _node(self, host: str, step: Step) -> Node:
        return (host, step.id)

    def _add_batch(self, play: Play, batch: tuple[str, ...]) -> None:
        for step in play.steps:
            runs_once = isinstance(step.body, TaskSpec) and step.body.run_once
            for host in batch[:1] if runs_once else batch:
                node = self._node(host, step)
                if node in self.excluded:
                    continue
                self.graph.add_node(node, step=step)
                self.nodes_by_play.setdefault(play.index, {}).setdefault(host, []).append(node)
                if step.kind == "container":
                    self.container_nodes.setdefault(step.name, []).append(node)

    def _runs_on(self, host: str, step: Step) -> Node:
        """The node that stands for `step` on `host`: a run_once task runs on its batch's first
        host, and every host of the batch waits for that one node."""
        node = self._node(host, step)
        if node in self.graph:
            return node
        placement = self.placements[step.play]
        batch = next(batch for batch in placement.batches if host in batch)
        return self._node(batch[0], step)

    def _add(self, before: Node, after: Node, is_hard: bool = True,
             kind: EdgeKind | None = None) -> None:
        """`after` waits for `before`. A hard edge also needs `before` to succeed; a soft
        one (ordering across hosts: play order, serial batches, the way into a run_once
        node) only needs it finished, so one host's failure stops only that host. `kind`:
        see EDGE_KINDS; by default what `is_hard` says (needs or order)."""
        kind = kind or ("needs" if is_hard else "order")
        if self.graph.has_edge(before, after):
            existing = self.graph.edges[before, after]
            is_hard = is_hard or existing["hard"]
            kind = merge_edge_kinds(kind, existing["kind"], is_hard)
        self.graph.add_edge(before, after, hard=is_hard, kind=kind)

    def _add_chain(self, host: str, steps: Sequence[Step],
                   unchained: frozenset[str] = frozenset()) -> None:
        for before, after in itertools.pairwise(steps):
            if after.id in unchained:  # a rescue or always section: its own edges
                continue
            before_node, after_node = self._runs_on(host, before), self._runs_on(host, after)
            # other hosts only line up for a run_once node; everyone needs its result
            self._add(before_node, after_node, is_hard=after_node[0] == host)

    def _add_host_edges(self, play: Play, host: str) -> None:
        tasks = play.steps_of("task")
        handlers = play.steps_of("handler")
        unchained = frozenset(section[0] for block in play.blocks
                              for section in (block.rescue, block.always) if section)
        self._add_chain(host, tasks, unchained)
        self._add_chain(host, handlers)
        if tasks and handlers:
            self._add_chain(host, (tasks[-1], handlers[0]))
        self._add_block_edges(play, host)
        self._add_task_order_edges(play, host, tasks)
        for step in play.steps:
            if (host, step.id) in self.excluded:   # placement constraints rule it out
                continue
            node = self._runs_on(host, step)
            for other in step.after:
                if (host, other) not in self.excluded:
                    self._add(self._runs_on(host, self.steps[other]), node)
            self._add_body_edges(play, host, step, node)

    def _add_task_order_edges(self, play: Play, host: str, tasks: Sequence[Step]) -> None:
        """Listed order, as an Ansible user reads a play: its containers on a host start
        after its tasks there (the task that writes a container's config comes first),
        unless a container says `after:` itself. Only the tasks listed before the first
        one that waits for a container or service count: that one and the rest come after
        the containers by their own word."""
        before = list(itertools.takewhile(
            lambda task: all(self.steps[other].kind in ("task", "handler") for other in task.after
                             if other in self.steps), tasks))
        if not before:
            return
        last = self._runs_on(host, before[-1])
        for container in play.steps_of("container"):
            node = self._node(host, container)
            if container.follows_tasks and node not in self.excluded:
                self._add(last, node)

    def _add_block_edges(self, play: Play, host: str) -> None:
        """block / rescue / always (Ansible's semantics): each rescue task also waits for
        the body's exits and runs only if one of them failed (a `rescue` edge, see
        execute.py); the always tasks wait for the body and rescue to finish, whatever
        their outcome; what follows a block needs it to have succeeded (`play.sequence`)."""
        for block in play.blocks:
            for rescue in block.rescue:
                for exit_id in block.body_exits:
                    self._add_rescue(self._runs_on(host, self.steps[exit_id]),
                                     self._runs_on(host, self.steps[rescue]))
            if block.always:
                first = self._runs_on(host, self.steps[block.always[0]])
                for exit_id in block.region_exits:
                    self._add(self._runs_on(host, self.steps[exit_id]), first, is_hard=False)
        for needed, step in play.sequence:
            node = self._runs_on(host, self.steps[step])
            for other in needed:
                self._add(self._runs_on(host, self.steps[other]), node)

    def _add_rescue(self, before: Node, after: Node) -> None:
        if before == after or self.graph.has_edge(before, after):
            return
        self.graph.add_edge(before, after, hard=False, rescue=True, kind="rescue")
        self.graph.graph["has_rescue"] = True  # the scheduler reads rescue edges only then

    def _add_body_edges(self, play: Play, host: str, step: Step, node: Node) -> None:
        body = step.body
        if isinstance(body, TaskSpec):
            for target in body.notify:
                container = next((s for s in play.steps_of("container") if s.name == target),
                                 None)
                # a notified container restarts after the task
                if container is not None and (host, container.id) not in self.excluded:
                    self._add(node, self._node(host, container), kind="notify")
        elif isinstance(body, ContainerSpec):
            for dependency in body.depends_on:
                for provider in self.container_nodes.get(dependency, []):
                    # replicas move off a lost or failing host, so a dependent only waits
                    # for each candidate host's replica step to finish
                    provider_body = self.steps[provider[1]].body
                    is_replicated = isinstance(provider_body, ContainerSpec) and \
                        provider_body.replicas is not None
                    self._add(provider, node, is_hard=not is_replicated)
        elif isinstance(body, ServiceSpec):
            container = next(s for s in play.steps_of("container") if s.name == body.container)
            self._add(self._node(host, container), node)

    def _nodes_of(self, play: int, hosts: Iterable[str]) -> list[Node]:
        by_host = self.nodes_by_play.get(play, {})
        return [node for host in hosts for node in by_host.get(host, ())]

    def _add_batch_edges(self, play: Play, placement: PlayPlacement) -> None:
        for number, (earlier, later) in enumerate(itertools.pairwise(placement.batches), 1):
            self._connect(self._nodes_of(play.index, earlier), self._nodes_of(play.index, later),
                          (BARRIER_HOST, f"{play.index}/batch/{number}"), "batch")

    def _add_play_edges(self) -> None:
        for play in self.playbook.plays:
            waits_for = play.after if play.after is not None else (
                (play.index - 1,) if play.index > 0 else ())
            entries = self._nodes_of(play.index, self.placements[play.index].hosts)
            for earlier in waits_for:
                self._connect(self._play_exits(earlier, set()), entries,
                              (BARRIER_HOST, f"{play.index}/after/{earlier}"))

    def _play_exits(self, play: int, seen: set[int]) -> list[Node]:
        """The last nodes of a play; a play with no hosts passes on what it waited for."""
        nodes = self._nodes_of(play, self.placements[play].hosts)
        if nodes or play in seen:
            return nodes
        seen.add(play)
        own = self.playbook.plays[play]
        waits_for = own.after if own.after is not None else ((play - 1,) if play > 0 else ())
        return [node for earlier in waits_for for node in self._play_exits(earlier, seen)]

    def _connect(self, earlier: list[Node], later: list[Node], barrier: Node,
                 kind: EdgeKind = "order") -> None:
        """Every node of `later` waits for every node of `earlier` to finish. Only the sinks
        and sources need an edge, the rest follows through the graph; they meet in one
        barrier node (soft edges: a host's failure holds back no other host), and a host on
        both sides also waits for its own earlier nodes to succeed (hard edges)."""
        if not earlier or not later:
            return
        earlier_set, later_set = set(earlier), set(later)
        sinks = [node for node in earlier
                 if not any(succ in earlier_set for succ in self.graph.successors(node))]
        sources = [node for node in later
                   if not any(pred in later_set for pred in self.graph.predecessors(node))]
        self.graph.add_node(barrier)
        for sink in sinks:
            self._add(sink, barrier, is_hard=False, kind=kind)
        for source in sources:
            self._add(barrier, source, is_hard=False, kind=kind)
        sources_by_host: dict[str, list[Node]] = {}
        for source in sources:
            sources_by_host.setdefault(source[0], []).append(source)
        for sink in sinks:
            for source in sources_by_host.get(sink[0], ()):
                self._add(sink, source)
