"""The handlers' place in a play: the flushes Ansible runs between sections, and the names
`notify:` gives resolved to handler steps (roles' handlers, `listen:` topics).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from engine.playbook.expansion import Context, Expansion, TaskEntry
from engine.playbook.model import Step, TaskSpec, step_id
from engine.yamlfile import derived_map

FLUSH_NAME = "(handlers notified in {section})"  # an implicit flush: no task has this name


def insert_flush(expansion: Expansion, section: str, index: int,
                 before: tuple[str, ...]) -> None:
    """Put the `meta: flush_handlers` Ansible runs after pre_tasks and after roles and tasks
    (ansible-core's Play.compile) at `index`: the handlers notified so far run before the
    next section (the play's handler steps are the last flush). What waited for the
    section's exits (`before`) waits for the flush now. Tagged `always`, as Ansible runs it
    whatever the tags; shown only when it runs a handler."""
    at = expansion.tasks[index].at
    raw = derived_map({"name": FLUSH_NAME.format(section=section), "meta": "flush_handlers",
                       "tags": ["always"]}, None, at)
    entry = TaskEntry(raw, Path(at.file), at, Context(), is_implicit=True)
    def task_id(task: TaskEntry) -> str:  # (expansion.kind is "handler" by now)
        return step_id(expansion.play, "task", task.name)

    flush = task_id(entry)
    later = {task_id(task) for task in expansion.tasks[index:]}
    expansion.sequence = [((flush,) if needed == before and step in later else needed, step)
                          for needed, step in expansion.sequence]
    if before and (index == 0 or before != (task_id(expansion.tasks[index - 1]),)):
        expansion.sequence.append((before, flush))
    expansion.tasks.insert(index, entry)


def resolve_notify(steps: list[Step], listen: Mapping[str, tuple[str, ...]]) -> list[Step]:
    """`notify:` names as Ansible reads them: a handler's name, its `role : name`, a bare
    name of a role's handler (the notifying task's own role first), or a `listen:` topic
    (every handler listening to it). Containers keep their names."""
    handlers = [step for step in steps if step.kind == "handler"]
    by_name = {step.name: step.name for step in handlers}
    resolved = []
    for step in steps:
        if not isinstance(step.body, TaskSpec) or not step.body.notify:
            resolved.append(step)
            continue
        prefix = step.name.split(" : ", 1)[0] + " : " if " : " in step.name else ""
        names: list[str] = []
        for target in step.body.notify:
            matches = [name for name in by_name if name == target]
            matches = matches or [name for name in by_name if name == f"{prefix}{target}"]
            matches = matches or [name for name in by_name if name.endswith(f" : {target}")]
            matches += [name for name, topics in listen.items() if target in topics]
            names += matches or [target]
        unique = tuple(dict.fromkeys(names))
        resolved.append(replace(step, body=replace(step.body, notify=unique)))
    return resolved
