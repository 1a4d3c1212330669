"""`play graph`: the plan as terminal text, Graphviz dot, or JSON. Pure: returns strings."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from engine.execute import Node, is_barrier
from engine.plan import Plan
from engine.playbook import ContainerSpec


def node_id(node: Node) -> str:
    return f"{node[0]}|{node[1]}"


def graph_text(plan: Plan) -> str:
    """Levels of the plan: everything on one level can run at once once the level above is
    done; the steps of a level are listed with the hosts they run on."""
    lines: list[str] = []
    for placement in plan.placements:
        play = plan.playbook.plays[placement.play]
        if not placement.hosts:
            lines.append(f"play {play.name!r}: no hosts match {play.hosts!r}")
            continue
        batches = " | ".join(", ".join(batch) for batch in placement.batches)
        kind = "batches" if len(placement.batches) > 1 else "hosts"
        lines.append(f"play {play.name!r}: {kind} {batches}")
    levels = plan.levels()
    nodes = plan.nodes
    lines.append(f"{_count(len(nodes), 'step')} on "
                 f"{_count(len({host for host, _ in nodes}), 'host')}, "
                 f"{_count(len(levels), 'level')}")
    for number, level in enumerate(levels, start=1):
        lines.append(f"level {number} ({len(level)} at once):")
        hosts_by_step: dict[str, list[str]] = defaultdict(list)
        for host, step_id in level:
            hosts_by_step[step_id].append(host)
        for step_id, hosts in hosts_by_step.items():
            step = plan.steps[step_id]
            play = plan.playbook.plays[step.play]
            lines.append(f"  {step.label:<32} [{play.name}] on {', '.join(hosts)}")
    return "\n".join(lines) + "\n"


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


# How each kind of node and edge is drawn (docs/graph.md has the legend). Colours are
# told apart by shape and line style too, for a print in black and white.
NODE_STYLES = {
    "task": 'shape=box, style="rounded,filled", fillcolor="#dbe8f7"',
    "handler": 'shape=note, style=filled, fillcolor="#fbe3c4"',
    "container": 'shape=box3d, style=filled, fillcolor="#d4efd4"',
    "service": 'shape=ellipse, style=filled, fillcolor="#eadcf4"',
}
EDGE_STYLES = {
    "needs": "style=solid",
    "order": 'style=dashed, color="#555555"',
    "notify": 'style=dotted, color="#d2691e", penwidth=2',
    "batch": 'style=bold, color="#999999", penwidth=2',
    # a block's rescue runs only if what it rescues failed
    "rescue": 'style=dashed, color="#c9302c", label="if failed", fontsize=9',
}


def _replica_groups(plan: Plan, nodes: list[Node]) -> dict[str, list[Node]]:
    """The nodes of each `replicas: N` container of a play: N of these candidates run it."""
    groups: dict[str, list[Node]] = defaultdict(list)
    for node in nodes:
        body = plan.steps[node[1]].body
        if isinstance(body, ContainerSpec) and body.replicas is not None:
            groups[node[1]].append(node)
    return groups


def _dot_node(plan: Plan, node: Node) -> str:
    step = plan.steps[node[1]]
    label = f"{node[0]}\n{step.label}"
    return (f"{_dot_quote(node_id(node))} [label={_dot_quote(label)}, "
            f"{NODE_STYLES[step.kind]}];")


def _dot_play(plan: Plan, play_index: int, nodes: list[Node]) -> list[str]:
    play = plan.playbook.plays[play_index]
    lines = [f"  subgraph cluster_{play_index} {{",
             f"    label={_dot_quote('play ' + play.name)}; style=rounded; color=\"#888888\";"]
    groups = _replica_groups(plan, nodes)
    grouped = {node for members in groups.values() for node in members}
    lines.extend(f"    {_dot_node(plan, node)}" for node in nodes if node not in grouped)
    for number, (container_step, members) in enumerate(groups.items()):
        body = plan.steps[container_step].body
        assert isinstance(body, ContainerSpec)  # _replica_groups keeps only these
        count = min(body.replicas or 0, len(members))
        lines.append(f"    subgraph cluster_{play_index}_replicas_{number} {{")
        lines.append(f"      label={_dot_quote(f'{count} of these')}; style=dashed; "
                     "color=\"#2e8b57\";")
        lines.extend(f"      {_dot_node(plan, node)}" for node in members)
        lines.append("    }")
    lines.append("  }")
    return lines


def graph_dot(plan: Plan) -> str:
    """Graphviz, top to bottom: one cluster per play, a dashed cluster around the candidate
    hosts of each `replicas: N` container ("N of these"); node shape and colour by step
    kind, edge style by edge kind (plan.EDGE_KINDS)."""
    lines = ["digraph play {", "  rankdir=TB;", "  node [fontsize=10, fontname=Helvetica];",
             "  edge [arrowsize=0.7];"]
    by_play: dict[int, list[Node]] = defaultdict(list)
    for node in sorted(plan.nodes, key=plan.node_order):
        by_play[plan.steps[node[1]].play].append(node)
    for play_index, nodes in by_play.items():
        lines.extend(_dot_play(plan, play_index, nodes))
    for barrier in sorted(node_id(node) for node in plan.graph.nodes if is_barrier(node)):
        # serial batches and plays meet in one point: "all above before all below"
        lines.append(f"  {_dot_quote(barrier)} [shape=point, width=0.08];")
    for before, after, kind in sorted(plan.graph.edges(data="kind"),
                                      key=lambda e: (node_id(e[0]), node_id(e[1]))):
        lines.append(f"  {_dot_quote(node_id(before))} -> {_dot_quote(node_id(after))} "
                     f"[{EDGE_STYLES[kind]}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def graph_json(plan: Plan) -> dict[str, Any]:
    level_of = {node: number for number, level in enumerate(plan.levels(), start=1)
                for node in level}
    nodes = []
    for node in sorted(plan.nodes, key=plan.node_order):
        step = plan.steps[node[1]]
        record = {"id": node_id(node), "host": node[0], "play": step.play, "kind": step.kind,
                  "name": step.name, "level": level_of[node], "source": str(step.source)}
        if isinstance(step.body, ContainerSpec) and step.body.replicas is not None:
            record["replicas"] = step.body.replicas  # this node is one of the candidates
        nodes.append(record)
    return {
        "plays": [{"index": placement.play, "name": plan.playbook.plays[placement.play].name,
                   "hosts": list(placement.hosts),
                   "batches": [list(batch) for batch in placement.batches]}
                  for placement in plan.placements],
        "nodes": nodes,
        # ids of the nodes that only order: the end of a serial batch, of a play
        "barriers": sorted(node_id(node) for node in plan.graph.nodes if is_barrier(node)),
        "edges": [{"from": before, "to": after, "kind": kind} for before, after, kind in
                  sorted((node_id(before), node_id(after), kind)
                         for before, after, kind in plan.graph.edges(data="kind"))],
    }


def render_graph(plan: Plan, output_format: str,
                 placement: Sequence[str] | None = None) -> str:
    """The plan in `output_format`; with `placement` (`--explain`'s lines), the
    explanation inside it, so that each format stays valid: a JSON key, dot comments."""
    if output_format == "dot":
        text = graph_dot(plan)
        if placement is None:
            return text
        comments = [f"  // {line}" for line in _placement_lines(placement)]
        return text[:text.rindex("}")] + "\n".join(comments) + "\n}\n"
    if output_format == "json":
        document = graph_json(plan)
        if placement is not None:
            document["placement"] = list(placement)
        return json.dumps(document, indent=2) + "\n"
    text = graph_text(plan)
    if placement is None:
        return text
    return text + "".join(f"{line}\n" for line in _placement_lines(placement))


def _placement_lines(placement: Sequence[str]) -> list[str]:
    if not placement:
        return ["placement: no container asks for replicas"]
    return ["placement:", *(f"  {line}" for line in placement)]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
