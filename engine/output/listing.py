"""`--list-hosts` and `--list-tasks`: the plan's plays, their hosts and their steps, in
ansible-playbook's shape (a tab before `TAGS:`), from the checked plan; nothing runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.plan import Plan
    from engine.playbook import Play, Step


def _tags(tags: frozenset[str]) -> str:
    return f"TAGS: [{', '.join(sorted(tags))}]"


def _header(plan: Plan) -> list[str]:
    return ["", f"playbook: {plan.playbook.path}"]


def _play_line(play: Play) -> str:
    return f"  play #{play.index + 1} ({play.hosts}): {play.name}\t{_tags(frozenset())}"


def list_hosts(plan: Plan) -> str:
    lines = _header(plan)
    for placement in plan.placements:
        play = plan.playbook.plays[placement.play]
        lines += ["", _play_line(play), f"    pattern: [{play.hosts!r}]",
                  f"    hosts ({len(placement.hosts)}):",
                  *(f"      {host}" for host in placement.hosts)]
    return "\n".join(lines) + "\n"


def list_tasks(plan: Plan) -> str:
    """Every step the run would take, after --tags, --skip-tags and --start-at-task; a
    task by its name as Ansible lists it, the other kinds after their kind; not the
    handler flushes between sections, which Ansible does not list either."""
    planned = {step_id for _, step_id in plan.nodes}
    lines = _header(plan)
    for play in plan.playbook.plays:
        lines += ["", _play_line(play), "    tasks:"]
        lines += [f"      {_step_name(step)}\t{_tags(step.tags)}" for step in play.steps
                  if step.id in planned and not getattr(step.body, "is_implicit", False)]
    return "\n".join(lines) + "\n"


def _step_name(step: Step) -> str:
    return step.name if step.kind == "task" else step.label
