"""Render an inventory for `play inventory`: `--list`, `--host` and `--graph`, as Ansible does.

Pure functions returning data or text; the CLI prints them. The shapes match
`ansible-inventory`, so scripts written against it keep working. Secret variables (those
a host's `secret_vars` lists, the become and connection passwords) and vaulted values are
shown as `********`, as ansible-inventory never shows a vault value in clear.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import InputError, did_you_mean
from engine.inventory import Inventory
from engine.output.redaction import MASK, Redactor, leaf_strings, secret_names, vaulted_values


def ansible_list(inventory: Inventory) -> dict[str, Any]:
    """`ansible-inventory --list`: groups with hosts/children, every host's merged vars in _meta.

    Like Ansible, empty keys are dropped (so an empty group is absent, though it
    is still listed among its parent's children), `all` lists no hosts, group
    vars appear only merged into hostvars, and keys are sorted.
    """
    listing: dict[str, Any] = {}
    for group in inventory.groups.values():
        entry: dict[str, Any] = {}
        if group.name != "all" and group.hosts:
            entry["hosts"] = list(group.hosts)
        if group.children:
            entry["children"] = list(group.children)
        if entry:
            listing[group.name] = entry
    hostvars = {name: _shown(host.vars) for name, host in sorted(inventory.hosts.items())
                if host.vars}
    listing["_meta"] = {"hostvars": hostvars}
    return dict(sorted(listing.items()))


def host_vars_json(inventory: Inventory, name: str) -> dict[str, Any]:
    """`ansible-inventory --host NAME`: that host's merged variables."""
    host = inventory.hosts.get(name)
    if host is None:
        raise InputError(f"no host named {name!r} in the inventory"
                         + did_you_mean(name, inventory.hosts))
    return _shown(host.vars)


def graph_text(inventory: Inventory, pattern: str = "all") -> str:
    """`ansible-inventory --graph [GROUP]`: the group tree with each group's direct hosts."""
    if pattern not in inventory.groups:
        raise InputError(f"--graph takes a group name, and there is no group {pattern!r}"
                         + did_you_mean(pattern, inventory.groups))
    return "\n".join(_graph_lines(inventory, pattern, 0)) + "\n"


def _graph_lines(inventory: Inventory, name: str, depth: int) -> list[str]:
    group = inventory.groups[name]
    lines = [_indent(f"@{name}:", depth)]
    for child in group.children:
        lines.extend(_graph_lines(inventory, child, depth + 1))
    if name != "all":
        lines.extend(_indent(host, depth + 1) for host in group.hosts)
    return lines


def _indent(text: str, depth: int) -> str:
    return "  |" * depth + "--" + text if depth else text


def _shown(variables: Mapping[str, Any]) -> dict[str, Any]:
    """A host's variables as printed: each secret one masked, and a secret's text hidden
    wherever else it appears (another variable built from it)."""
    names = secret_names(variables) & set(variables)
    vaulted = vaulted_values()
    redactor = Redactor([*vaulted,
                         *(text for name in names for text in leaf_strings(variables[name]))])
    masked = {key: MASK if key in names or _is_vaulted_number(value, vaulted)
              else redactor.value(value) for key, value in variables.items()}
    return _sorted_keys(masked)


def _is_vaulted_number(value: Any, vaulted: set[str]) -> bool:
    """A number from an encrypted file (the redactor masks text only)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        str(value) in vaulted


def _sorted_keys(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """Keys sorted all the way down, as `ansible-inventory` prints them."""
    return {key: _sorted(mapping[key]) for key in sorted(mapping, key=str)}


def _sorted(value: Any) -> Any:
    if isinstance(value, Mapping):
        return _sorted_keys(value)
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value
