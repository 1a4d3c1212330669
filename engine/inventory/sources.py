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
from engine.lazy import is_vaulted
from engine.yamlfile import YamlMap, load_yaml, load_yaml_text

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
    try:
        content = path.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read this inventory file: {error}", Location(str(path))) from None
    text = _decoded(content, path, draft)
    is_encrypted = is_vaulted(text)
    if is_encrypted and path.suffix.lower() not in (*YAML_EXTENSIONS, ""):
        raise InputError("an inventory file encrypted with ansible-vault is read as YAML "
                         "only: name it .yml, or encrypt the values with !vault (or an "
                         "encrypted group_vars file) instead", Location(str(path)))
    if path.suffix.lower() in YAML_EXTENSIONS or is_encrypted:
        parse_yaml_inventory(load_yaml_text(text, str(path)), path, draft)
        return
    if not path.suffix:
        document = _try_yaml(text, path)
        if document is not None:
            parse_yaml_inventory(document, path, draft)
            return
    parse_ini(text, path, draft)


def _decoded(content: bytes, path: Path, draft: Draft) -> str:
    """The file as text. Like Ansible's INI plugin, a comment line that is not UTF-8 reads
    as blank; any other such line keeps its bytes as U+FFFD (Ansible keeps them as lone
    surrogates, which no host could be sent), with a warning naming the line."""
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    lines: list[str] = []
    for number, raw in enumerate(content.split(b"\n"), 1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            is_comment = raw.lstrip()[:1] in (b"#", b";")
            lines.append("" if is_comment else raw.decode("utf-8", "replace"))
            if not is_comment:
                draft.warn("this line is not UTF-8 text: its bad bytes read as U+FFFD (\ufffd);"
                           " save the file as UTF-8", Location(str(path), number))
    return "\n".join(lines)


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
