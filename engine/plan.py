"""The plan: one networkx DiGraph over the whole playbook whose nodes are
(host, step id) pairs and whose edges say "must finish first" (SPEC: Ordering).

Pure: it takes the loaded playbook and inventory and touches nothing remote.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import networkx as nx

from engine.batches import PlayPlacement, place_plays
from engine.errors import InputError, did_you_mean
from engine.execute import BARRIER_HOST, Node, is_barrier
from engine.playbook import ContainerSpec, Play, Playbook, ServiceSpec, Step, TaskSpec, step_id

if TYPE_CHECKING:
    from engine.inventory import Inventory



@dataclass(frozen=True, eq=False)
class Plan:
    playbook: Playbook
    # nx.DiGraph of Node; node attribute "step" is the Step. Besides the (host, step) nodes
    # it holds barriers (execute.is_barrier): one node between consecutive serial batches
    # and between plays, so that ordering costs an edge per node, not one per pair.
    graph: Any
    placements: tuple[PlayPlacement, ...]
    steps: dict[str, Step] = field(default_factory=dict)
    # tasks in a block whose `rescue:` is in the plan (not left out by --tags): a failure
    # there is "rescued", the rescue decides how the block ends
    rescued: frozenset[str] = frozenset()

    @property
    def nodes(self) -> list[Node]:
        """The (host, step) nodes: every step on every host, barriers left out."""
        return [node for node in self.graph.nodes if not is_barrier(node)]

    def levels(self) -> list[list[Node]]:
        """Nodes grouped so that each group can start once the groups above it are done."""
        levels = ([node for node in generation if not is_barrier(node)]
                  for generation in nx.topological_generations(self.graph))
        return [sorted(level, key=self.node_order) for level in levels if level]

    def node_order(self, node: Node) -> tuple[int, int, str]:
        step = self.steps[node[1]]
        play = self.playbook.plays[step.play]
        return (step.play, play.steps.index(step), node[0])


def plan_run(playbook: Playbook, inventory: Inventory,
             placements: Sequence[PlayPlacement] | None = None,
             tags: Iterable[str] = (), skip_tags: Iterable[str] = ()) -> Plan:
    """Build and check the plan; a cycle or a conflict raises `InputError`. `placements`:
    `place_plays` of the run's `--limit` (all hosts when not given)."""
    if placements is None:
        placements = place_plays(playbook, inventory, None)
    placements = tuple(placements)
    graph = nx.DiGraph()
    builder = _Builder(playbook, placements, graph, _excluded_by_constraints(playbook, inventory))
    builder.build()
    _check_container_conflicts(playbook, placements)
    _check_acyclic(graph, builder.steps, playbook)
    tags, skip_tags = frozenset(tags), frozenset(skip_tags)
    _check_tags_exist(playbook, tags)
    had_steps = any(not is_barrier(node) for node in graph.nodes)
    _drop_untagged(graph, builder.steps, tags, skip_tags)
    if had_steps and not any(not is_barrier(node) for node in graph.nodes):
        chosen = " ".join(f"{option} {','.join(sorted(given))}" for option, given in
                          (("--tags", tags), ("--skip-tags", skip_tags)) if given)
        raise InputError(f"{chosen} leaves no step to run on the hosts; nothing would be done",
                         playbook.plays[0].source if playbook.plays else None)
    return Plan(playbook, graph, placements, builder.steps, _rescued(playbook, graph))


def _rescued(playbook: Playbook, graph: Any) -> frozenset[str]:
    if not any(play.blocks for play in playbook.plays):
        return frozenset()
    planned = {step for _, step in graph.nodes}
    return frozenset(task for play in playbook.plays for block in play.blocks
                     if any(rescue in planned for rescue in block.rescue) for task in block.body)


# Ansible's special tags: they select by rule, not by being written on a step
_SPECIAL_TAGS = frozenset({"all", "always", "never", "tagged", "untagged"})


def _check_tags_exist(playbook: Playbook, tags: frozenset[str]) -> None:
    """A `--tags` word no step carries is a typo: from cron it would deploy nothing and
    report success."""
    known = {tag for play in playbook.plays for step in play.steps for tag in step.tags}
    for tag in sorted(tags - known - _SPECIAL_TAGS):
        raise InputError(f"--tags {tag!r}: no step of the playbook has that tag"
                         f"{did_you_mean(tag, known)} (tags in the playbook: "
                         f"{', '.join(sorted(known)) or 'none'})")


def _excluded_by_constraints(playbook: Playbook, inventory: Inventory) -> set[tuple[str, str]]:
    """(host, step id) pairs that a replicated container's `placement.constraints` rule out,
    for the container and its services; constraints compare inventory variables as text."""
    excluded: set[tuple[str, str]] = set()
    for play in playbook.plays:
        for step in play.steps_of("container"):
            placement = step.body.placement if isinstance(step.body, ContainerSpec) else None
            if placement is None or not placement.constraints:
                continue
            services = [s.id for s in play.steps_of("service")
                        if isinstance(s.body, ServiceSpec) and s.body.container == step.name]
            for host in inventory.hosts.values():
                if any(str(host.vars.get(key)) != value
                       for key, value in placement.constraints.items()):
                    excluded.update((host.name, node) for node in (step.id, *services))
    return excluded


class _Builder:
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

    def _add(self, before: Node, after: Node, is_hard: bool = True) -> None:
        """`after` waits for `before`. A hard edge also needs `before` to succeed; a soft
        one (ordering across hosts: play order, serial batches, the way into a run_once
        node) only needs it finished, so one host's failure stops only that host."""
        if self.graph.has_edge(before, after):
            is_hard = is_hard or self.graph.edges[before, after]["hard"]
        self.graph.add_edge(before, after, hard=is_hard)

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
        self.graph.add_edge(before, after, hard=False, rescue=True)
        self.graph.graph["has_rescue"] = True  # the scheduler reads rescue edges only then

    def _add_body_edges(self, play: Play, host: str, step: Step, node: Node) -> None:
        body = step.body
        if isinstance(body, TaskSpec):
            for target in body.notify:
                container = next((s for s in play.steps_of("container") if s.name == target),
                                 None)
                # a notified container restarts after the task
                if container is not None and (host, container.id) not in self.excluded:
                    self._add(node, self._node(host, container))
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
                          (BARRIER_HOST, f"{play.index}/batch/{number}"))

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

    def _connect(self, earlier: list[Node], later: list[Node], barrier: Node) -> None:
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
            self._add(sink, barrier, is_hard=False)
        for source in sources:
            self._add(barrier, source, is_hard=False)
        sources_by_host: dict[str, list[Node]] = {}
        for source in sources:
            sources_by_host.setdefault(source[0], []).append(source)
        for sink in sinks:
            for source in sources_by_host.get(sink[0], ()):
                self._add(sink, source)


def _check_container_conflicts(playbook: Playbook, placements: Sequence[PlayPlacement]) -> None:
    owner: dict[tuple[str, str], Step] = {}
    for play, placement in zip(playbook.plays, placements, strict=True):
        for step in play.steps_of("container"):
            for host in placement.hosts:
                other = owner.setdefault((host, step.name), step)
                if other is not step:
                    raise InputError(
                        f"container {step.name!r} is defined twice for host {host!r} (also at "
                        f"{other.source}); a host can run one container of a name", step.source)


def _check_acyclic(graph: Any, steps: dict[str, Step], playbook: Playbook) -> None:
    # Linear in the graph's size; find_cycle (an edge walk that is far slower on a big plan)
    # only runs to name a cycle that exists.
    if nx.is_directed_acyclic_graph(graph):
        return
    cycle = nx.find_cycle(graph)
    names = [_describe(node, steps, playbook) for node, _ in cycle]
    first = next(steps[node[1]] for node, _ in cycle if not is_barrier(node))
    raise InputError("these steps wait for each other in a cycle, so none can start: "
                     + " -> ".join([*names, names[0]])
                     + "; remove one of the depends_on / after / notify links", first.source)


def _describe(node: Node, steps: dict[str, Step], playbook: Playbook) -> str:
    if is_barrier(node):
        play, kind, number = node[1].split("/")
        name = playbook.plays[int(play)].name
        return (f"the end of serial batch {number} of play {name!r}" if kind == "batch" else
                f"the end of play {playbook.plays[int(number)].name!r} (before play {name!r})")
    step = steps[node[1]]
    return f"{step.label} on {node[0]} ({step.source})"


def _drop_untagged(graph: Any, steps: dict[str, Step], tags: frozenset[str],
                   skip_tags: frozenset[str]) -> None:
    """Remove steps deselected by --tags / --skip-tags, keeping the order they imposed:
    whatever waited for a removed step now waits for what it waited for."""
    if not tags and not skip_tags:
        return

    def is_selected(step: Step) -> bool:
        effective = step.tags | {"all"}
        if "always" in step.tags:
            return not ({"always"} & skip_tags)
        if tags and not (effective & tags):
            return False
        return not (effective & skip_tags) if skip_tags else True

    for node in list(graph.nodes):
        if is_barrier(node):
            continue
        if not is_selected(_selection_owner(steps[node[1]], steps)):
            for pred in graph.predecessors(node):
                for succ in graph.successors(node):
                    before, after = graph.edges[pred, node], graph.edges[node, succ]
                    # a rescue task still runs only if what stood before it failed, and
                    # what needed a dropped rescue to succeed needs the block it rescued to
                    is_hard = (before["hard"] or before.get("rescue", False)) and after["hard"]
                    is_rescue = after.get("rescue", False)
                    if graph.has_edge(pred, succ):
                        is_hard = is_hard or graph.edges[pred, succ]["hard"]
                        is_rescue = is_rescue and graph.edges[pred, succ].get("rescue", False)
                    if is_rescue:
                        graph.add_edge(pred, succ, hard=False, rescue=True)
                    else:
                        graph.add_edge(pred, succ, hard=is_hard)
            graph.remove_node(node)


def _selection_owner(step: Step, steps: dict[str, Step]) -> Step:
    """Services have registry tags, not step tags: they follow their container."""
    if isinstance(step.body, ServiceSpec):
        return steps[step_id(step.play, "container", step.body.container)]
    return step
