"""Read `host_vars/` and `group_vars/` beside an inventory source, the way Ansible finds them.

For a name `web` the first of `web` (a file, or a folder of files merged in
sorted order), `web.yml`, `web.yaml`, `web.json` is used. Files for hosts or
groups the inventory does not define are never looked at, so they are ignored.
"""

from __future__ import annotations

import errno
from pathlib import Path

from engine.errors import InputError, Location
from engine.inventory.draft import Origin, Vars
from engine.inventory.yaml_source import kind_of
from engine.yamlfile import YamlMap, load_yaml_file, where

VARS_EXTENSIONS = (".yml", ".yaml", ".json")


def load_entity_vars(inventory_dir: Path, kind: str, name: str) -> Vars:
    """The variables in `inventory_dir/<kind>/<name>` (kind: host_vars or group_vars)."""
    loaded = Vars()
    for file in find_vars_files(inventory_dir / kind, name):
        document = load_yaml_file(file)
        if document is None:
            continue
        if not isinstance(document, YamlMap):
            raise InputError(
                f"a {kind} file must be a mapping of variable names to values, "
                f"got {kind_of(document)}",
                where(document, default=Location(str(file), 1)),
            )
        for key, value in document.items():
            # A relative ssh_key here is relative to the inventory folder, as inline.
            loaded.set(key, value, Origin(document.where(key), inventory_dir))
    return loaded


def find_vars_files(folder: Path, name: str) -> list[Path]:
    # A host named like a path ("/srv/chroot", "..") must not reach outside the folder.
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        return []
    if not _is_folder(folder):
        return []  # no such folder: one stat per host instead of four
    for candidate in (folder / name, *(folder / (name + ext) for ext in VARS_EXTENSIONS)):
        try:
            if candidate.is_dir():
                return _files_in(candidate)
            if candidate.is_file():
                return [candidate]
        except OSError as error:
            if error.errno == errno.ENAMETOOLONG:  # a name too long to have a vars file
                return []
            raise InputError(f"cannot read this vars file or folder: {error.strerror}",
                             Location(str(candidate))) from None
    return []


def _is_folder(folder: Path) -> bool:
    try:
        return folder.is_dir()
    except OSError:
        return True  # let the lookup below say what is wrong with it


def _files_in(folder: Path) -> list[Path]:
    found: list[Path] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name.endswith("~"):
            continue
        if entry.is_dir() and not entry.suffix:
            found.extend(_files_in(entry))
        elif entry.is_file() and (not entry.suffix or entry.suffix in VARS_EXTENSIONS):
            found.append(entry)
    return found
