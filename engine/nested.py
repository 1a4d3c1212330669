"""The one walk over nested values (mappings, lists, tuples, dataclasses), as YAML, templates
and the loader's models nest them, in its two forms: `leaves` reads every leaf, `rebuilt`
makes the value again with each leaf replaced.

Every stage that needs the strings inside a value walks with this: the loader's value
checks (with where each string is), the pre-run template checks, variable scopes,
redaction, rendering (`templating.render`) and the loader's `as_written`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
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


def rebuilt(value: Any, leaf: Callable[[Any], Any], key: Callable[[Any], Any] | None = None,
            with_dataclasses: bool = False) -> Any:
    """`value` made again with `leaf` applied to every leaf (and `key`, else `leaf`, to
    every mapping key): mappings become dicts, lists and tuples lists; with
    `with_dataclasses` a dataclass becomes the dict of its fields, else it is a leaf."""
    if isinstance(value, str):   # the most common leaf: before the slower Mapping test
        return leaf(value)
    if isinstance(value, Mapping):
        on_key = leaf if key is None else key
        return {on_key(name): rebuilt(item, leaf, key, with_dataclasses)
                for name, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [rebuilt(item, leaf, key, with_dataclasses) for item in value]
    if with_dataclasses and hasattr(value, "__dataclass_fields__"):
        return {name: rebuilt(getattr(value, name), leaf, key, with_dataclasses)
                for name in value.__dataclass_fields__}
    return leaf(value)
