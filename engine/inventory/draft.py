"""The mutable inventory the source parsers fill in, before it is frozen into the model.

Every variable keeps where it was written (`Origin`), so that a bad value found
after merging (a port of 70000) is still reported at its own file and line.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import InputError, Location
from engine.names import check_name as registry_name

IMPLICIT = Location("<implicit>")


@dataclass(frozen=True)
class Origin:
    """Where a variable was written, and the folder its relative paths are relative to."""

    where: Location
    base_dir: Path


@dataclass
class Vars:
    """Variables with their origins; `merge` lets later layers replace earlier keys."""

    values: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, Origin] = field(default_factory=dict)

    def set(self, key: str, value: Any, origin: Origin) -> None:
        self.values[key] = value
        self.origins[key] = origin

    def merge(self, other: Vars) -> None:
        # Ansible's default hash_behaviour=replace: a dict value replaces, never deep-merges.
        self.values.update(other.values)
        self.origins.update(other.origins)

    @classmethod
    def layered(cls, layers: Iterable[Vars]) -> Vars:
        merged = cls()
        for layer in layers:
            merged.merge(layer)
        return merged


@dataclass
class DraftGroup:
    name: str
    where: Location
    hosts: dict[str, None] = field(default_factory=dict)  # in the order listed (a set, fast)
    children: dict[str, Location] = field(default_factory=dict)  # child -> where it was listed
    vars: Vars = field(default_factory=Vars)


@dataclass
class DraftHost:
    name: str
    where: Location
    vars: Vars = field(default_factory=Vars)


@dataclass
class Draft:
    """Hosts and groups of every source so far, in definition order."""

    groups: dict[str, DraftGroup] = field(default_factory=dict)
    hosts: dict[str, DraftHost] = field(default_factory=dict)
    vars_dirs: list[Path] = field(default_factory=list)  # where host_vars/ and group_vars/ live
    sources: list[str] = field(default_factory=list)
    # what Ansible reads with a warning, and so does play: "file:line: what was done"
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.group("all", IMPLICIT)
        # Like Ansible, `ungrouped` is the first child of `all`, before any group a file defines.
        self.add_child("all", "ungrouped", IMPLICIT)

    def group(self, name: str, where: Location) -> DraftGroup:
        """The group `name`, created on first mention."""
        if name not in self.groups:
            check_name("group", name, where)
            self.groups[name] = DraftGroup(name, where)
        return self.groups[name]

    def add_host(self, name: str, group: str, where: Location) -> DraftHost:
        if name not in self.hosts:
            check_name("host", name, where)
        host = self.hosts.setdefault(name, DraftHost(name, where))
        self.group(group, where).hosts.setdefault(name)
        return host

    def warn(self, message: str, where: Location) -> None:
        self.warnings.append(f"{where}: {message}")

    def add_child(self, parent: str, child: str, where: Location) -> None:
        self.group(child, where)
        self.group(parent, where).children.setdefault(child, where)


def check_name(kind: str, name: str, where: Location) -> None:
    """A host or group name ends up in patterns, file names and SSH commands: it must not
    be empty or hold control characters (NUL, newline, escape sequences)."""
    if not name:
        raise InputError(f"a {kind} name cannot be empty", where)
    bad = next((char for char in name if unicodedata.category(char) == "Cc"), None)
    if bad is not None:
        raise InputError(f"{kind} name {name!r} contains the control character {bad!r}; "
                         "use letters, digits, '.', '-' and '_'", where)
    if kind == "host":
        # a host name is also a file name: its deploy lock (<registry root>/.locks/<host>)
        # and its instance records; without this the run would stop at the lock instead
        try:
            registry_name("host", name)
        except ValueError as error:
            raise InputError(f"{error}: it names the host's deploy lock and registry records "
                             "(a file name); use letters, digits, '.', '-' and '_'",
                             where) from None
