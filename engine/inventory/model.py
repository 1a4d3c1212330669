"""The loaded inventory: hosts with their merged variables, and groups.

These frozen dataclasses are what the loaders hand to the rest of the pipeline
(planner, CLI, output); nothing downstream reads inventory files again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.errors import Location
from engine.patterns import select_hosts


@dataclass(frozen=True)
class Host:
    """One inventory host and how to reach it.

    `vars` holds every inventory variable of the host after merging (see
    `engine.inventory` for the order), written as the user wrote them, Ansible
    aliases included. The connection fields below are read from them; when both
    spellings are set (`address` and `ansible_host`, `port` and `ansible_port`,
    ...) the short, non-Ansible one wins.
    """

    name: str
    vars: Mapping[str, Any]
    groups: tuple[str, ...]  # "all" first, then by depth and name (variable merge order)
    address: str
    port: int
    is_port_set: bool  # the inventory named the port (it then wins over ~/.ssh/config)
    user: str | None
    ssh_key: str | None
    connection: str  # "ssh" | "local"
    become: bool
    become_password: str | None
    ssh_gateway: str | None
    source: Location
    become_user: str | None = None  # sudo -u (Ansible's default: root)
    ssh_password: str | None = None  # password login (ansible_password), a secret
    # the -o options of ansible_ssh_common_args / _extra_args play reads, by lower-case
    # name: a layer of SSH config above ~/.ssh/config
    ssh_options: Mapping[str, Any] = field(default_factory=dict)


def implicit_localhost() -> Host:
    """Ansible's implicit `localhost` (a `delegate_to: localhost` target when the inventory
    has none): the control node, over a local connection, as the user running play."""
    return Host(name="localhost", vars={"ansible_connection": "local"}, groups=("all",),
                address="127.0.0.1", port=22, is_port_set=False, user=None, ssh_key=None,
                connection="local", become=False, become_password=None, ssh_gateway=None,
                source=Location("<implicit localhost>"))


@dataclass(frozen=True)
class Group:
    """A group; `vars` are its own (inline, then group_vars/ files), not its parents'.

    `all` lists every host; other groups list only their direct members.
    """

    name: str
    hosts: tuple[str, ...]
    children: tuple[str, ...]
    vars: Mapping[str, Any]


@dataclass(frozen=True)
class Inventory:
    hosts: Mapping[str, Host]  # in definition order
    groups: Mapping[str, Group]  # always has "all" and "ungrouped"
    sources: tuple[str, ...]
    warnings: tuple[str, ...] = ()  # what was read leniently, as Ansible reads it

    def select(self, pattern: str, where: Location | None = None) -> tuple[Host, ...]:
        """The hosts `pattern` selects (see `engine.patterns`), in Ansible's order."""
        return tuple(self.hosts[name] for name in select_hosts(pattern, self, where))
