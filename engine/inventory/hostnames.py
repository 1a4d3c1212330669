"""Host entries as inventories write them: `name`, `name:port`, and ranges like `web[01:03]`.

Ranges follow Ansible: `[begin:end]` or `[begin:end:step]`, numeric (a leading
zero in `begin` pads every number to its width) or single letters
(`db-[a:c]`); several ranges in one name multiply out.
"""

from __future__ import annotations

import itertools
import re
import string

from engine.errors import InputError, Location

# A name (plain characters or whole [...] ranges, so `web[1:3]` is no port) then `:digits`.
_NAME_AND_PORT = re.compile(r"^(?P<name>(?:[^:\[\]]|\[[^\]]*\])+):(?P<port>[0-9]+)$")
# ASCII digits only (str.isdigit accepts '²', which int() refuses), and few enough for int().
_DIGITS = re.compile(r"[0-9]{1,18}")
# One host entry may stand for at most this many hosts, so a typo such as
# `web[1:99999999]` is refused instead of filling the memory.
MAX_RANGE_HOSTS = 100_000


def parse_host_entry(entry: str, where: Location) -> tuple[list[str], int | None]:
    """The host names an entry stands for, and the port it gives them (if any)."""
    match = _NAME_AND_PORT.match(entry)
    name, port = (match["name"], match["port"]) if match else (entry, None)
    if port is not None and (len(port) > 5 or not 1 <= int(port) <= 65535):
        raise InputError(f"host entry {entry!r}: port {port} is not a TCP port; use a number "
                         "from 1 to 65535", where)
    if not name or name.endswith(":"):
        raise InputError(
            f"host entry {entry!r}: a ':' must be followed by a port number, e.g. 'web1:2222'",
            where,
        )
    if name.strip() == "---":
        raise InputError("host entry '---' looks like the start of a YAML document; "
                         "name YAML inventories *.yml so they are read as YAML", where)
    return expand_host_range(name, where), None if port is None else int(port)


def expand_host_range(name: str, where: Location) -> list[str]:
    """`web[01:03].lan` -> web01.lan, web02.lan, web03.lan; a name without `[` is itself."""
    pieces: list[list[str]] = []  # literal text and range items, alternating
    rest, total = name, 1
    while (start := rest.find("[")) >= 0:
        end = rest.find("]", start)
        if end < 0:
            raise InputError(f"host range in {name!r} has no closing ']'", where)
        items = _range_items(rest[start + 1:end], name, where, MAX_RANGE_HOSTS // total)
        total *= len(items)
        pieces += [[rest[:start]], items]
        rest = rest[end + 1:]
    return ["".join(parts) for parts in itertools.product(*pieces, [rest])]


def _range_items(spec: str, name: str, where: Location, most: int) -> list[str]:
    bounds = spec.split(":")
    if len(bounds) not in (2, 3):
        raise InputError(f"host range [{spec}] in {name!r} must be [begin:end] or "
                         "[begin:end:step], e.g. web[01:10]", where)
    begin, end = bounds[0] or "0", bounds[1]
    step_text = bounds[2] if len(bounds) == 3 else "1"
    if not end:
        raise InputError(f"host range [{spec}] in {name!r} has no end value", where)
    if not _DIGITS.fullmatch(step_text) or int(step_text) < 1:
        raise InputError(f"host range [{spec}] in {name!r}: the step must be a positive "
                         "whole number", where)
    step = int(step_text)
    letters = string.ascii_letters
    is_letters = len(begin) == 1 and len(end) == 1 and begin in letters and end in letters
    if not is_letters and not (_DIGITS.fullmatch(begin) and _DIGITS.fullmatch(end)):
        raise InputError(f"host range [{spec}] in {name!r} must be numbers (01:10) or "
                         "single letters (a:f)", where)
    first, last = (letters.index(begin), letters.index(end)) if is_letters else (int(begin),
                                                                                 int(end))
    if first > last:
        raise InputError(f"host range [{spec}] in {name!r} must have begin <= end", where)
    width = len(begin) if begin.startswith("0") and len(begin) > 1 else 0
    if width and len(end) != width:
        raise InputError(f"host range [{spec}] in {name!r}: zero-padded begin and end "
                         "must have the same width, e.g. [01:10]", where)
    positions = range(first, last + 1, step)  # lazy: its length is known before expanding
    if len(positions) > most:
        raise InputError(f"host entry {name!r} stands for more than {MAX_RANGE_HOSTS:,} "
                         "hosts; split it into smaller ranges", where)
    if is_letters:
        return [letters[position] for position in positions]
    return [str(number).zfill(width) for number in positions]
