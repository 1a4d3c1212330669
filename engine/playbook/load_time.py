"""What play renders when the playbook loads, before any host exists: a looped include's
items and their labels, and a templated include or role name; from the play's vars and -e
only (engine/playbook/structure.py and roles.py expand with them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import InputError, Location
from engine.playbook.expansion import COMING_FROM_ANSIBLE
from engine.playbook.keywords import LOOP_KEYS, LoopSpec, loop_items
from engine.schema import Fields
from engine.templating import is_template


def literal_vars(variables: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in variables.items() if not is_template(value)}


def load_time_items(variables: Mapping[str, Any], loop: LoopSpec,
                    fields: Fields) -> list[tuple[Any, str]]:
    """A looped include's items and the label of each (what its tasks' names end with): as
    in Ansible the file runs once per item, so play expands it once per item when the
    playbook loads; the list is rendered from play vars and -e."""
    from engine.templating import render, template_errors

    key = next(name for name in LOOP_KEYS if fields.has(name))
    try:  # a literal list stays as written: its items' templates render on each host
        listed = loop.items if not is_template(loop.items) else render(loop.items,
                                                                       variables)
        items = loop_items(loop.kind, listed)
    except template_errors(InputError, ValueError, TypeError) as error:
        raise InputError(
            f"the {key!r} of this include cannot be expanded when the playbook loads (play "
            f"expands includes before the run, and this list needs more than the play's vars "
            f"and -e: {error}); give the list in the play's vars or -e, or put the loop on "
            f"the included tasks ({COMING_FROM_ANSIBLE})", fields.at(key)) from None
    labelled: list[tuple[Any, str]] = []
    for index, item in enumerate(items):
        label = _item_label(variables, loop, item, index)
        taken = {seen for _, seen in labelled}
        labelled.append((item, label if label not in taken else f"{label} #{index + 1}"))
    return labelled


def _item_label(variables: Mapping[str, Any], loop: LoopSpec, item: Any, index: int) -> str:
    """`loop_control.label` rendered for `item`, else a scalar item itself, else the item's
    `name` or `key` (a with_dict entry), else its position."""
    from engine.templating import render, template_errors

    if loop.label is not None:
        try:
            return str(render(loop.label, {**variables, loop.loop_var: item}))
        except template_errors(InputError, ValueError, TypeError):
            pass
    if isinstance(item, (str, int, float)) and not isinstance(item, bool):
        return str(item)
    if isinstance(item, dict):
        for name in ("name", "key"):
            if isinstance(item.get(name), (str, int)):
                return str(item[name])
    return f"item {index + 1}"


def literal_name(variables: Mapping[str, Any], value: str, key: str, at: Location) -> str:
    """A templated include or role name, rendered from play vars and -e when it can be:
    play expands includes before any host exists."""
    if not is_template(value):
        return value
    from engine.templating import render_text, template_errors

    try:
        rendered = render_text(value, variables)
    except template_errors(InputError, ValueError, TypeError) as error:
        raise InputError(
            f"{key.rsplit('.', 1)[-1]} {value!r} cannot be expanded when the playbook loads (play "
            f"expands includes before the run, and this name needs more than the play's vars "
            f"and -e: {error}); write the name literally, or include each file with a "
            f"'when:' ({COMING_FROM_ANSIBLE})", at) from None
    return str(rendered)
