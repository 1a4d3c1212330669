"""Typed readers for user-written mappings: each returns a checked value or raises
`InputError` at the exact line, saying what was expected.

The playbook loader describes each kind of step with these; nothing here knows
about plays or containers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from engine.errors import InputError, Location, did_you_mean
from engine.templating import is_template
from engine.yamlfile import YamlMap, where

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


# Ansible's boolean words (module_utils.parsing.convert_bool), strings case-insensitive.
_TRUE = frozenset({"y", "yes", "on", "1", "true", "t"})
_FALSE = frozenset({"n", "no", "off", "0", "false", "f"})


def as_boolean(value: Any, what: str) -> bool:
    """A rendered boolean keyword or argument read as Ansible reads it: `"false"`, `"no"`,
    `"off"` and `"0"` are false (Python's bool() of them is true). ValueError names the
    value when it is no boolean."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"{what} must be true or false (yes/no, on/off, 1/0), not {value!r}")


def type_name(value: object) -> str:
    """How a user would name the type of a YAML value."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    for kind, name in ((dict, "a mapping"), (list, "a list"), (str, "a string"),
                       ((int, float), "a number")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


class Fields:
    """The keys of one user mapping, read one by one; `finish` rejects any left unread."""

    def __init__(self, mapping: object, what: str, at: Location) -> None:
        if not isinstance(mapping, dict):
            raise InputError(f"{what} must be a mapping (key: value), not {type_name(mapping)}",
                             where(mapping, default=at))
        self.mapping: Mapping[str, Any] = mapping
        self.what = what
        self.location = where(mapping, default=at)

    def at(self, key: str) -> Location:
        if isinstance(self.mapping, YamlMap):
            return self.mapping.where(key)
        return self.location

    def has(self, key: str) -> bool:
        return key in self.mapping

    def reject_unknown(self, allowed: Iterable[str], hint: str = "") -> None:
        allowed = set(allowed)
        for key in self.mapping:
            if key not in allowed:
                raise InputError(
                    f"unknown key {key!r} in {self.what}{did_you_mean(key, allowed)}"
                    + (hint or f" (allowed: {', '.join(sorted(allowed))})"),
                    self.at(key),
                )

    def _fail(self, key: str, expected: str) -> InputError:
        value = self.mapping[key]
        return InputError(f"{key!r} of {self.what} must be {expected}, not {type_name(value)}"
                          f" ({_short(value)})", self.at(key))

    def raw(self, key: str, default: Any = None) -> Any:
        return self.mapping.get(key, default)

    def required(self, key: str) -> Any:
        if key not in self.mapping or self.mapping[key] is None:
            raise InputError(f"{self.what} needs {key!r}", self.location)
        return self.mapping[key]

    def string(self, key: str, default: str | None = None, *, required: bool = False) -> Any:
        if required:
            self.required(key)
        value = self.mapping.get(key, default)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise self._fail(key, "a string")

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.mapping.get(key, default)
        if is_template(value):
            return str(value)
        if value not in choices:
            raise InputError(f"{key!r} of {self.what} must be one of {', '.join(choices)}, "
                             f"not {value!r}{did_you_mean(str(value), choices)}", self.at(key))
        return str(value)

    def boolean(self, key: str, default: bool | None = None) -> Any:
        value = self.mapping.get(key, default)
        if value is None or isinstance(value, bool) or is_template(value):
            return value
        raise self._fail(key, "true or false")

    def static_boolean(self, key: str, default: bool) -> bool:
        """A boolean that shapes the plan, read before any variable exists: a template
        would be decided by `bool()` of its text (always true), so it is refused."""
        value = self.mapping.get(key, default)
        if isinstance(value, bool):
            return value
        raise InputError(f"{key!r} of {self.what} must be true or false written in the "
                         f"playbook, not {type_name(value)} ({_short(value)}): it decides the "
                         "plan before any variable is rendered", self.at(key))

    def integer(self, key: str, default: int | None = None, *, minimum: int = 0) -> Any:
        value = self.mapping.get(key, default)
        if value is None or is_template(value):
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key, "a whole number")
        if value < minimum:
            raise InputError(f"{key!r} of {self.what} must be at least {minimum}, not {value}",
                             self.at(key))
        return value

    def number(self, key: str, default: float | None = None) -> Any:
        value = self.mapping.get(key, default)
        if value is None or is_template(value):
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise self._fail(key, "a positive number")
        return value

    def duration(self, key: str, default: float | None = None) -> Any:
        """Seconds, from a number or a string like '500ms', '2s', '1m'."""
        value = self.mapping.get(key, default)
        if value is None or is_template(value):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            return float(value)
        match = _DURATION.match(value) if isinstance(value, str) else None
        if not match:
            raise self._fail(key, "a duration such as 30, '500ms', '2s' or '1m'")
        return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]

    def string_list(self, key: str, *, one_allowed: bool = True) -> tuple[str, ...]:
        """A list of strings; a single string counts as a one-item list when `one_allowed`."""
        value = self.mapping.get(key)
        if value is None:
            return ()
        if isinstance(value, str) and one_allowed:
            return (value,)
        if isinstance(value, list) and all(
                isinstance(item, (str, int, float)) and not isinstance(item, bool)
                for item in value):
            return tuple(str(item) for item in value)
        raise self._fail(key, "a list of strings")

    def command(self, key: str) -> Any:
        """A command: a string (run by a shell in the container's image) or a list of arguments."""
        value = self.mapping.get(key)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, list) and all(isinstance(item, (str, int, float)) for item in value):
            return tuple(str(item) for item in value)
        raise self._fail(key, "a string or a list of strings")

    def string_map(self, key: str) -> dict[str, Any]:
        """A flat mapping of names to scalar values (env, labels, meta)."""
        value = self.mapping.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self._fail(key, "a mapping of names to values")
        for name, item in value.items():
            if isinstance(item, (dict, list)):
                raise InputError(f"{key}.{name} of {self.what} must be a plain value, "
                                 f"not {type_name(item)}", where(value, name, self.at(key)))
        return dict(value)

    def mapping_of(self, key: str) -> dict[str, Any]:
        value = self.mapping.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self._fail(key, "a mapping")
        return value


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
