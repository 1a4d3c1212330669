"""Which tasks read the service registry: every task whose arguments, or whose template
file, call `services('name')`, found once before the run from the written playbook
(engine/consumers.py re-renders them when a run changes that service's records).
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import InputError
from engine.local_files import find_local_file
from engine.nested import strings
from engine.playbook.model import Playbook, Step, TaskSpec
from engine.templating import is_template, services_read


def registry_readers(playbook: Playbook) -> dict[str, tuple[str, ...]]:
    """service name (or templating.ANY_SERVICE) -> ids of the task steps that read it, in
    playbook order. A template file named by a template (`src: "{{ x }}.j2"`) is not read:
    its task follows the registry only through its arguments."""
    readers: dict[str, list[str]] = {}
    for play in playbook.plays:
        for step in play.steps:
            for service in sorted(_services_of(step)):
                readers.setdefault(service, []).append(step.id)
    return {service: tuple(ids) for service, ids in readers.items()}


def _services_of(step: Step) -> set[str]:
    body = step.body
    if step.kind != "task" or not isinstance(body, TaskSpec):
        return set()
    found = {name for text in strings(body.args) for name in services_read(text)}
    source = body.args.get("src") if isinstance(body.args, dict) else None
    if body.action != "template" or not isinstance(source, str) or is_template(source):
        return found
    try:
        # the loader resolved a literal src already; its own lookup, should it not have
        bases = tuple(Path(base) for base in (body.sources or (step.source.file,)))
        path = find_local_file(bases, "templates", source, step.source)
        return found | services_read(path.read_text(encoding="utf-8"))
    except (InputError, OSError, UnicodeDecodeError):
        return found  # the pre-run checks report a template that cannot be read
