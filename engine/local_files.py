"""Where a task's local file is: a template's or copy's `src` looked up beside the task's
file, its role and the playbook. Used when the playbook loads (a literal name), by the
pre-run checks and the run (a rendered one), and for the files a consumer reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.actions.catalog import CATALOG
from engine.errors import InputError, Location


def resolve_local_source(action: str, args: Any, bases: str | Sequence[str]) -> Any:
    """`args` of a task as rendered when it runs, with a template's or copy's `src` looked up
    beside the playbook (a role's folders first) as a literal one was when it loaded (the
    pre-run checks made sure it exists; ValueError, a failed step, if it went away since)."""
    local_file = CATALOG[action].local_file
    if local_file is None or not isinstance(args, dict):
        return args
    key, folder = local_file
    source = args.get(key)
    if not isinstance(source, str):
        return args
    bases = (bases,) if isinstance(bases, str) else bases
    try:
        found = find_local_file(tuple(Path(base) for base in bases), folder, source,
                                Location(bases[-1]))
    except InputError as error:
        raise ValueError(error.message) from None
    return {**args, key: str(found)}


def find_local_file(bases: Sequence[Path], folder: str, name: str, at: Location) -> Path:
    """Look up a template or file next to each of `bases` in turn (a role's tasks file, the
    task's own file, the playbook): `<dir>/<folder>/`, then `<dir>/../<folder>/` (the
    shipped layout, and a role's templates/ beside its tasks/), then `<dir>/` itself."""
    candidates = [Path(name).expanduser()] if Path(name).expanduser().is_absolute() else [
        candidate for base in (path.parent for path in bases)
        for candidate in (base / folder / name, base.parent / folder / name, base / name)]
    candidates = list(dict.fromkeys(candidate.absolute() for candidate in candidates))
    for candidate in candidates:
        try:
            if candidate.is_file():
                return candidate.resolve()
        except (OSError, ValueError) as error:  # a name too long for the file system, NUL
            raise InputError(f"file {name!r} cannot be looked up: "
                             f"{getattr(error, 'strerror', None) or error}", at) from None
    looked = ", ".join(str(candidate) for candidate in candidates)
    raise InputError(f"file {name!r} not found (looked in: {looked})", at)
