"""Freeze a `Draft` into an `Inventory`: group tree checks, ungrouped hosts, variable merge.

A host's variables are layered like Ansible's defaults (lowest first):

1. inline vars of `all`, then of the host's other groups, by depth (parents
   before children), then `ansible_group_priority`, then name;
2. `group_vars/all`, then `group_vars/<group>` in that same group order (for
   each inventory folder in `-i` order);
3. the host's inline vars, then `host_vars/<host>`.

So any group_vars/ file beats every inline group var, and a child group beats
its parent within a layer. Dicts replace, never deep-merge.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from engine.errors import InputError
from engine.inventory.connection_vars import read_connection_vars
from engine.inventory.draft import Draft, DraftGroup, Vars
from engine.inventory.model import Group, Host, Inventory
from engine.inventory.vars_dirs import load_entity_vars


def build_inventory(draft: Draft) -> Inventory:
    _check_group_tree(draft)
    _attach_top_level_groups(draft)
    _settle_ungrouped(draft)
    parents = _parents(draft)
    group_order = _group_sort_key(draft, parents)
    file_vars = _file_vars_loader(draft)

    groups: dict[str, Group] = {}
    for name, group in draft.groups.items():
        layered = Vars.layered([group.vars, *file_vars("group_vars", name)])
        members = tuple(draft.hosts) if name == "all" else tuple(group.hosts)
        groups[name] = Group(name, members, tuple(group.children), layered.values)

    direct_groups: dict[str, list[str]] = {name: ["all"] for name in draft.hosts}
    for group in draft.groups.values():
        for member in group.hosts:
            direct_groups[member].append(group.name)
    hosts: dict[str, Host] = {}
    for name, draft_host in draft.hosts.items():
        host_groups = sorted(_with_ancestors(direct_groups[name], parents), key=group_order)
        merged = Vars.layered([
            *(draft.groups[g].vars for g in host_groups),
            *(layer for g in host_groups for layer in file_vars("group_vars", g)),
            draft_host.vars,
            *file_vars("host_vars", name),
        ])
        connection = read_connection_vars(name, merged, draft.warn)
        hosts[name] = Host(
            name=name, vars=merged.values, groups=tuple(host_groups),
            address=connection.address, port=connection.port,
            is_port_set=connection.is_port_set, user=connection.user,
            ssh_key=connection.ssh_key, connection=connection.connection,
            become=connection.become, become_password=connection.become_password,
            ssh_gateway=connection.ssh_gateway, source=draft_host.where,
            become_user=connection.become_user, ssh_password=connection.ssh_password,
            ssh_options=connection.ssh_options,
        )
    return Inventory(hosts=hosts, groups=groups, sources=tuple(draft.sources),
                     warnings=tuple(draft.warnings))


def _file_vars_loader(draft: Draft) -> Callable[[str, str], list[Vars]]:
    @cache
    def file_vars(kind: str, name: str) -> list[Vars]:
        """One layer per inventory folder, in `-i` order."""
        return [load_entity_vars(folder, kind, name) for folder in draft.vars_dirs]

    return file_vars


def _check_group_tree(draft: Draft) -> None:
    """`all` is nobody's child, and `children:` has no cycle (a cycle has no depth to sort by)."""
    for group in draft.groups.values():
        if "all" in group.children:
            raise InputError(f"group 'all' cannot be a child of {group.name!r}; every group "
                             "is already under 'all'", group.children["all"])
    state: dict[str, str] = {}  # "visiting" while on the current path, then "done"

    def visit(group: DraftGroup, path: list[str]) -> None:
        state[group.name] = "visiting"
        for child in group.children:
            if state.get(child) == "visiting":
                cycle = [*path[path.index(child):], child]
                raise InputError("groups form a cycle through children: "
                                 + " -> ".join(cycle), group.children[child])
            if child not in state:
                visit(draft.groups[child], [*path, child])
        state[group.name] = "done"

    for group in draft.groups.values():
        if group.name not in state:
            visit(group, [group.name])


def _attach_top_level_groups(draft: Draft) -> None:
    has_parent = {child for group in draft.groups.values() for child in group.children}
    for group in draft.groups.values():
        if group.name != "all" and group.name not in has_parent:
            draft.add_child("all", group.name, group.where)


def _settle_ungrouped(draft: Draft) -> None:
    """Like Ansible: `ungrouped` holds exactly the hosts in no group but `all`/`ungrouped`."""
    grouped = {host for group in draft.groups.values()
               if group.name not in ("all", "ungrouped") for host in group.hosts}
    draft.groups["ungrouped"].hosts = dict.fromkeys(
        name for name in draft.hosts if name not in grouped)
    # Hosts written directly under `all:` are in no real group: they end up in ungrouped,
    # and the model's `all` lists every host anyway.
    draft.groups["all"].hosts = {}


def _parents(draft: Draft) -> dict[str, list[str]]:
    parents: dict[str, list[str]] = {name: [] for name in draft.groups}
    for group in draft.groups.values():
        for child in group.children:
            parents[child].append(group.name)
    return parents


def _with_ancestors(names: list[str], parents: dict[str, list[str]]) -> set[str]:
    found: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            pending.extend(parents[name])
    return found


def _group_sort_key(
    draft: Draft, parents: dict[str, list[str]]
) -> Callable[[str], tuple[int, int, str]]:
    """Ansible's group order: depth below `all`, then ansible_group_priority, then name."""

    @cache
    def depth(name: str) -> int:
        return max((depth(parent) + 1 for parent in parents[name]), default=0)

    def key(name: str) -> tuple[int, int, str]:
        return depth(name), _priority(draft.groups[name]), name

    return key


def _priority(group: DraftGroup) -> int:
    value = group.vars.values.get("ansible_group_priority", 1)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"group {group.name!r}: ansible_group_priority must be a whole number, "
                         f"got {value!r}", group.vars.origins["ansible_group_priority"].where)
    return value
