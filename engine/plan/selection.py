"""What `--tags`, `--skip-tags` and `--start-at-task` take out of the plan, keeping the
order the steps taken out imposed on the others.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from engine.errors import InputError, did_you_mean
from engine.execute import is_barrier
from engine.plan.edges import EdgeKind, merge_edge_kinds
from engine.playbook import Playbook, ServiceSpec, Step, step_id

# Ansible's special tags: they select by rule, not by being written on a step
_SPECIAL_TAGS = frozenset({"all", "always", "never", "tagged", "untagged"})


def check_tags_exist(playbook: Playbook, tags: frozenset[str]) -> None:
    """A `--tags` word no step carries is a typo: from cron it would deploy nothing and
    report success."""
    known = {tag for play in playbook.plays for step in play.steps for tag in step.tags}
    for tag in sorted(tags - known - _SPECIAL_TAGS):
        raise InputError(f"--tags {tag!r}: no step of the playbook has that tag"
                         f"{did_you_mean(tag, known)} (tags in the playbook: "
                         f"{', '.join(sorted(known)) or 'none'})")


def drop_untagged(graph: Any, steps: dict[str, Step], tags: frozenset[str],
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

    drop_steps(graph, steps, lambda step: is_selected(_selection_owner(step, steps)))


def starting_at(playbook: Playbook, name: str) -> Callable[[Step], bool]:
    """--start-at-task, as Ansible's: the first task so named and everything after it run;
    the plays above it and the tasks listed before it in its play do not (its play's
    handlers, containers and services do)."""
    for play in playbook.plays:
        for index, first in enumerate(play.steps):
            if first.kind == "task" and name in (first.name, first.label):
                return functools.partial(_is_at_or_after, play.steps, first.play, index)
    names = [step.name for play in playbook.plays for step in play.steps if step.kind == "task"]
    shown = ", ".join(repr(task) for task in names[:20]) or "none"
    raise InputError(f"--start-at-task {name!r}: no task of the playbook has that name "
                     f"(its tasks: {shown})", None)


def _is_at_or_after(steps: Sequence[Step], play: int, index: int, step: Step) -> bool:
    if step.play != play:
        return step.play > play
    return step.kind != "task" or steps.index(step) >= index


def drop_steps(graph: Any, steps: dict[str, Step], is_kept: Callable[[Step], bool]) -> None:
    """Remove the steps `is_kept` refuses, keeping the order they imposed: whatever waited
    for a removed step now waits for what it waited for."""
    for node in list(graph.nodes):
        if is_barrier(node):
            continue
        if not is_kept(steps[node[1]]):
            for pred in graph.predecessors(node):
                for succ in graph.successors(node):
                    before, after = graph.edges[pred, node], graph.edges[node, succ]
                    # a rescue task still runs only if what stood before it failed, and
                    # what needed a dropped rescue to succeed needs the block it rescued to
                    is_hard = (before["hard"] or before.get("rescue", False)) and after["hard"]
                    is_rescue = after.get("rescue", False)
                    kind: EdgeKind = "needs" if is_hard else (
                        "batch" if "batch" in (before["kind"], after["kind"]) else "order")
                    if graph.has_edge(pred, succ):
                        is_hard = is_hard or graph.edges[pred, succ]["hard"]
                        is_rescue = is_rescue and graph.edges[pred, succ].get("rescue", False)
                        kind = merge_edge_kinds(kind, graph.edges[pred, succ]["kind"], is_hard)
                    if is_rescue:
                        graph.add_edge(pred, succ, hard=False, rescue=True, kind="rescue")
                    else:
                        graph.add_edge(pred, succ, hard=is_hard, kind=kind)
            graph.remove_node(node)


def _selection_owner(step: Step, steps: dict[str, Step]) -> Step:
    """Services have registry tags, not step tags: they follow their container."""
    if isinstance(step.body, ServiceSpec):
        return steps[step_id(step.play, "container", step.body.container)]
    return step
