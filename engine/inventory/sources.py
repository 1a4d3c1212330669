"""Turn `-i` arguments into a `Draft`: files are read as YAML or INI, folders file by file.

Format sniffing follows Ansible: `.yml`/`.yaml`/`.json` are YAML; a file with no
extension is YAML if it parses as a mapping of groups, INI otherwise; every
other file is INI. Folders are read in sorted order, skipping what Ansible skips.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.errors import InputError, Location
from engine.inventory.draft import Draft
from engine.inventory.ini import parse_ini
from engine.inventory.yaml_source import parse_yaml_inventory
from engine.yamlfile import YamlMap, load_yaml, load_yaml_file

YAML_EXTENSIONS = (".yml", ".yaml", ".json")
# Ansible's INVENTORY_IGNORE_EXTS default, plus the folders and dotfiles it always skips.
IGNORED_NAMES = ("host_vars", "group_vars", "vars_plugins")
IGNORED_ENDINGS = (".orig", ".bak", ".cfg", ".retry", ".pyc", ".pyo", ".swp", ".rpm",
                   ".md", ".txt", ".rst", "~")


def read_sources(sources: Sequence[str | Path]) -> Draft:
    draft = Draft()
    seen_vars_dirs: set[Path] = set()
    for source in sources:
        path = Path(source)
        if path.is_dir():
            files, vars_dir = inventory_files(path), path
            if not files:
                raise InputError("this inventory folder holds no inventory file (YAML or INI, "
                                 "in it or its subfolders); pass the inventory file, or a "
                                 "folder that holds one, with -i", Location(str(path)))
        elif path.is_file():
            files, vars_dir = [path], path.parent
        else:
            raise InputError("inventory source not found; pass an inventory file or folder "
                             "with -i", Location(str(path)))
        for file in files:
            read_inventory_file(file, draft)
        if vars_dir.resolve() not in seen_vars_dirs:
            seen_vars_dirs.add(vars_dir.resolve())
            draft.vars_dirs.append(vars_dir)
        draft.sources.append(str(path))
    return draft


def inventory_files(folder: Path) -> list[Path]:
    """Every inventory file in `folder` and its subfolders, sorted by name."""
    found: list[Path] = []
    for entry in sorted(folder.iterdir()):
        if (entry.name.startswith(".") or entry.name in IGNORED_NAMES
                or entry.name.endswith(IGNORED_ENDINGS)):
            continue
        if entry.is_dir():
            found.extend(inventory_files(entry))
        elif entry.is_file():
            found.append(entry)
    return found


def read_inventory_file(path: Path, draft: Draft) -> None:
    if path.suffix.lower() in YAML_EXTENSIONS:
        parse_yaml_inventory(load_yaml_file(path), path, draft)
        return
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read this inventory file: {error}", Location(str(path))) from None
    if not path.suffix:
        document = _try_yaml(text, path)
        if document is not None:
            parse_yaml_inventory(document, path, draft)
            return
    parse_ini(text, path, draft)


def _try_yaml(text: str, path: Path) -> YamlMap | None:
    """The document if `text` reads as a YAML inventory (a mapping of groups), else None."""
    try:
        document: Any = load_yaml(text, str(path))
    except InputError:
        return None
    if isinstance(document, YamlMap) and all(
        body is None or isinstance(body, YamlMap) for body in document.values()
    ):
        return document
    return None
