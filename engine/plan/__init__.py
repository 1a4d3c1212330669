"""The plan: one networkx DiGraph over the whole playbook whose nodes are
(host, step id) pairs and whose edges say "must finish first" (SPEC: Ordering).

Pure: it takes the loaded playbook and inventory and touches nothing remote (it reads
the playbook's template files, to know which tasks read the service registry).

The graph's edges are made in `builder.py`, their kinds in `edges.py`; `--tags`,
`--skip-tags` and `--start-at-task` take steps out in `selection.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.batches import PlayPlacement, place_plays
from engine.errors import InputError
from engine.execute import Node, is_barrier
from engine.lazy import networkx
from engine.plan.builder import GraphBuilder
from engine.plan.edges import EDGE_KINDS, EdgeKind, merge_edge_kinds
from engine.plan.selection import check_tags_exist, drop_steps, drop_untagged, starting_at
from engine.playbook import ContainerSpec, Playbook, ServiceSpec, Step
from engine.playbook.consumers import registry_readers

if TYPE_CHECKING:
    from engine.inventory import Inventory

__all__ = ["EDGE_KINDS", "EdgeKind", "Plan", "merge_edge_kinds", "plan_run"]


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
    # service name -> ids of the task steps that read it with services() (ANY_SERVICE
    # for a computed name): what engine/consumers.py re-renders when its records change
    readers: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def nodes(self) -> list[Node]:
        """The (host, step) nodes: every step on every host, barriers left out."""
        return [node for node in self.graph.nodes if not is_barrier(node)]

    def levels(self) -> list[list[Node]]:
        """Nodes grouped so that each group can start once the groups above it are done."""
        levels = ([node for node in generation if not is_barrier(node)]
                  for generation in networkx().topological_generations(self.graph))
        return [sorted(level, key=self.node_order) for level in levels if level]

    def node_order(self, node: Node) -> tuple[int, int, str]:
        step = self.steps[node[1]]
        play = self.playbook.plays[step.play]
        return (step.play, play.steps.index(step), node[0])


def plan_run(playbook: Playbook, inventory: Inventory,
             placements: Sequence[PlayPlacement] | None = None,
             tags: Iterable[str] = (), skip_tags: Iterable[str] = (),
             start_at_task: str | None = None) -> Plan:
    """Build and check the plan; a cycle or a conflict raises `InputError`. `placements`:
    `place_plays` of the run's `--limit` (all hosts when not given)."""
    if placements is None:
        placements = place_plays(playbook, inventory, None)
    placements = tuple(placements)
    graph = networkx().DiGraph()
    builder = GraphBuilder(playbook, placements, graph,
                           _excluded_by_constraints(playbook, inventory))
    builder.build()
    _check_container_conflicts(playbook, placements)
    _check_acyclic(graph, builder.steps, playbook)
    tags, skip_tags = frozenset(tags), frozenset(skip_tags)
    check_tags_exist(playbook, tags)
    had_steps = any(not is_barrier(node) for node in graph.nodes)
    drop_untagged(graph, builder.steps, tags, skip_tags)
    if had_steps and not any(not is_barrier(node) for node in graph.nodes):
        chosen = " ".join(f"{option} {','.join(sorted(given))}" for option, given in
                          (("--tags", tags), ("--skip-tags", skip_tags)) if given)
        raise InputError(f"{chosen} leaves no step to run on the hosts; nothing would be done",
                         playbook.plays[0].source if playbook.plays else None)
    if start_at_task is not None:
        drop_steps(graph, builder.steps, starting_at(playbook, start_at_task))
    return Plan(playbook, graph, placements, builder.steps, rescued=_rescued(playbook, graph),
                readers=registry_readers(playbook))


def _rescued(playbook: Playbook, graph: Any) -> frozenset[str]:
    if not any(play.blocks for play in playbook.plays):
        return frozenset()
    planned = {step for _, step in graph.nodes}
    return frozenset(task for play in playbook.plays for block in play.blocks
                     if any(rescue in planned for rescue in block.rescue) for task in block.body)


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
    if networkx().is_directed_acyclic_graph(graph):
        return
    cycle = networkx().find_cycle(graph)
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
