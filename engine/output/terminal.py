"""What the console and `--log` print of text a host sent (stderr, health output) or a
user wrote: control characters shown escaped, never sent to the terminal, where an escape
sequence could recolour, move the cursor, retitle the window or hide earlier lines.
`--json` needs none of this: JSON strings escape control characters themselves.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides and
# isolates that reorder what a line shows (CVE-2021-42574, "Trojan Source").
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every control character but newline and tab written as an escape."""
    return _UNPRINTABLE.sub(_escaped, text)
