"""The one walk over nested values (mappings, lists, tuples, dataclasses), as YAML, templates
and the loader's models nest them.

Every stage that needs the strings inside a value walks with this: the loader's value
checks (with where each string is), the pre-run template checks, variable scopes, redaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import fields
from typing import Any

Path = tuple[Any, ...]


def leaves(value: Any, keys: bool = True, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """(where, leaf) for every value inside `value` that is not a mapping, a list, a tuple
    or a dataclass; a dataclass walks as the mapping of its fields. With `keys`, mapping keys
    are leaves too (a template may stand in a key), found at the path of their value."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if keys:
                yield from leaves(key, keys, (*path, key))
            yield from leaves(item, keys, (*path, key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from leaves(item, keys, (*path, index))
    elif hasattr(value, "__dataclass_fields__") and not isinstance(value, type):
        for field in fields(value):
            yield from leaves(getattr(value, field.name), keys, (*path, field.name))
    else:
        yield path, value


def strings(value: Any, keys: bool = True) -> Iterator[str]:
    """Every string inside `value` (mapping keys included, with `keys`)."""
    return (leaf for _, leaf in leaves(value, keys) if isinstance(leaf, str))
