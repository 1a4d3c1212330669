"""Host entries as inventories write them: `name`, `name:port`, and ranges like `web[01:03]`.

Ranges follow Ansible: `[begin:end]` or `[begin:end:step]`, numeric (a leading
zero in `begin` pads every number to its width) or single letters
(`db-[a:c]`); several ranges in one name multiply out.
"""

from __future__ import annotations

import re
import string

from engine.errors import InputError, Location

# A name (plain characters or whole [...] ranges, so `web[1:3]` is no port) then `:digits`.
_NAME_AND_PORT = re.compile(r"^(?P<name>(?:[^:\[\]]|\[[^\]]*\])+):(?P<port>[0-9]+)$")


def parse_host_entry(entry: str, where: Location) -> tuple[list[str], int | None]:
    """The host names an entry stands for, and the port it gives them (if any)."""
    match = _NAME_AND_PORT.match(entry)
    name, port = (match["name"], int(match["port"])) if match else (entry, None)
    if not name or name.endswith(":"):
        raise InputError(
            f"host entry {entry!r}: a ':' must be followed by a port number, e.g. 'web1:2222'",
            where,
        )
    if name.strip() == "---":
        raise InputError("host entry '---' looks like the start of a YAML document; "
                         "name YAML inventories *.yml so they are read as YAML", where)
    return expand_host_range(name, where), port


def expand_host_range(name: str, where: Location) -> list[str]:
    """`web[01:03].lan` -> web01.lan, web02.lan, web03.lan; a name without `[` is itself."""
    start = name.find("[")
    if start < 0:
        return [name]
    end = name.find("]", start)
    if end < 0:
        raise InputError(f"host range in {name!r} has no closing ']'", where)
    head, spec, tail = name[:start], name[start + 1:end], name[end + 1:]
    names: list[str] = []
    for item in _range_items(spec, name, where):
        names.extend(expand_host_range(head + item + tail, where))
    return names


def _range_items(spec: str, name: str, where: Location) -> list[str]:
    bounds = spec.split(":")
    if len(bounds) not in (2, 3):
        raise InputError(f"host range [{spec}] in {name!r} must be [begin:end] or "
                         "[begin:end:step], e.g. web[01:10]", where)
    begin, end = bounds[0] or "0", bounds[1]
    step_text = bounds[2] if len(bounds) == 3 else "1"
    if not end:
        raise InputError(f"host range [{spec}] in {name!r} has no end value", where)
    if not step_text.isdigit() or int(step_text) < 1:
        raise InputError(f"host range [{spec}] in {name!r}: the step must be a positive "
                         "whole number", where)
    step = int(step_text)
    letters = string.ascii_letters
    if len(begin) == 1 and len(end) == 1 and begin in letters and end in letters:
        if letters.index(begin) > letters.index(end):
            raise InputError(f"host range [{spec}] in {name!r} must have begin <= end", where)
        return list(letters[letters.index(begin):letters.index(end) + 1:step])
    if not (begin.isdigit() and end.isdigit()):
        raise InputError(f"host range [{spec}] in {name!r} must be numbers (01:10) or "
                         "single letters (a:f)", where)
    if int(begin) > int(end):
        raise InputError(f"host range [{spec}] in {name!r} must have begin <= end", where)
    width = len(begin) if begin.startswith("0") and len(begin) > 1 else 0
    if width and len(end) != width:
        raise InputError(f"host range [{spec}] in {name!r}: zero-padded begin and end "
                         "must have the same width, e.g. [01:10]", where)
    return [str(number).zfill(width) for number in range(int(begin), int(end) + 1, step)]
