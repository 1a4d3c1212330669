"""`play graph`: the plan as terminal text, Graphviz dot, or JSON. Pure: returns strings."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from engine.execute import Node, is_barrier
from engine.plan import Plan


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


def graph_dot(plan: Plan) -> str:
    """Graphviz: one cluster per play; edges are 'must finish first'."""
    lines = ["digraph play {", "  rankdir=LR;", "  node [shape=box, fontsize=10];"]
    by_play: dict[int, list[Node]] = defaultdict(list)
    for node in sorted(plan.nodes, key=plan.node_order):
        by_play[plan.steps[node[1]].play].append(node)
    for play_index, nodes in by_play.items():
        play = plan.playbook.plays[play_index]
        lines.append(f"  subgraph cluster_{play_index} {{")
        lines.append(f"    label={_dot_quote('play ' + play.name)};")
        for node in nodes:
            label = f"{node[0]}\n{plan.steps[node[1]].label}"
            lines.append(f"    {_dot_quote(node_id(node))} [label={_dot_quote(label)}];")
        lines.append("  }")
    for barrier in sorted(node_id(node) for node in plan.graph.nodes if is_barrier(node)):
        # serial batches and plays meet in one point: "all above before all below"
        lines.append(f"  {_dot_quote(barrier)} [shape=point, width=0.08];")
    for before, after in sorted(plan.graph.edges, key=lambda e: (node_id(e[0]), node_id(e[1]))):
        # a block's rescue runs only if what it rescues failed
        style = ' [style=dashed, label="if failed"]' if plan.graph.edges[before, after].get(
            "rescue") else ""
        lines.append(f"  {_dot_quote(node_id(before))} -> {_dot_quote(node_id(after))}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def graph_json(plan: Plan) -> dict[str, Any]:
    level_of = {node: number for number, level in enumerate(plan.levels(), start=1)
                for node in level}
    nodes = []
    for node in sorted(plan.nodes, key=plan.node_order):
        step = plan.steps[node[1]]
        nodes.append({"id": node_id(node), "host": node[0], "play": step.play,
                      "kind": step.kind, "name": step.name, "level": level_of[node],
                      "source": str(step.source)})
    return {
        "plays": [{"index": placement.play, "name": plan.playbook.plays[placement.play].name,
                   "hosts": list(placement.hosts),
                   "batches": [list(batch) for batch in placement.batches]}
                  for placement in plan.placements],
        "nodes": nodes,
        # ids of the nodes that only order: the end of a serial batch, of a play
        "barriers": sorted(node_id(node) for node in plan.graph.nodes if is_barrier(node)),
        "edges": sorted([node_id(before), node_id(after)] for before, after in plan.graph.edges),
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
