"""Task actions, one module each; this table is the only place that lists them.

Modules are imported when first used, so a run pays only for the actions it has.
"""

from __future__ import annotations

import importlib

from engine.actions.base import Action, ActionContext, ActionError, Change, Outcome

ACTION_MODULES: dict[str, str] = {
    "command": "engine.actions.command",
    "shell": "engine.actions.command",
    "copy": "engine.actions.copy",
    "template": "engine.actions.copy",
    "file": "engine.actions.file",
    "package": "engine.actions.package",
    "user": "engine.actions.user",
    "wait_for": "engine.actions.wait_for",
    "docker_image": "engine.actions.docker_image",
    "fetch": "engine.actions.fetch",
}


def find_action(name: str) -> Action:
    """The function that runs action `name`: `ACTIONS[name]` of its module."""
    module = importlib.import_module(ACTION_MODULES[name])
    action: Action = module.ACTIONS[name]
    return action


__all__ = ["Action", "ActionContext", "ActionError", "Change", "Outcome", "find_action"]
