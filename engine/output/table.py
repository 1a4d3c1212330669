"""The plain-text tables of the subcommands (`play registry ls`, `play registry check`,
`play lab status`): fixed-width columns, the last one as wide as its text, no colour, so
a cron mail and `awk` read them alike."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def table_lines(columns: Sequence[tuple[str, int]], rows: Iterable[Sequence[str]]) -> list[str]:
    """A header line and one line per row; `columns` are (title, width), the last width
    ignored. A value wider than its column pushes the rest right rather than being cut:
    an instance id must stay whole to be pasted."""
    def line(cells: Sequence[str]) -> str:
        widths = [width for _, width in columns[:-1]]
        padded = [f"{cell:<{width}}" for cell, width in zip(cells[:-1], widths, strict=True)]
        return " ".join([*padded, cells[-1]]).rstrip()

    return [line([title for title, _ in columns]), *(line(row) for row in rows)]
