"""The dependency floors keep known security holes out, and what is installed meets them."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent.parent
# the first release without the hole: jinja2's sandbox escapes (CVE-2024-56326,
# CVE-2025-27516) and paramiko's Terrapin (CVE-2023-48795)
SAFE = {"jinja2": (3, 1, 6), "paramiko": (3, 4, 0)}


def _numbers(text: str) -> tuple[int, ...]:
    numbers = [int(part) for part in re.findall(r"\d+", text)[:3]]
    return tuple(numbers + [0] * (3 - len(numbers)))


def _floors() -> dict[str, tuple[int, ...]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floors = {}
    for requirement in project["dependencies"]:
        name, _, floor = requirement.partition(">=")
        floors[name.strip().lower()] = _numbers(floor)
    return floors


@pytest.mark.parametrize("name", sorted(SAFE))
def test_the_declared_floor_excludes_the_known_holes(name: str) -> None:
    assert _floors().get(name, ()) >= SAFE[name], f"pyproject.toml must ask {name}>=" + \
        ".".join(map(str, SAFE[name]))


@pytest.mark.parametrize("name", sorted(SAFE))
def test_the_installed_release_meets_the_floor(name: str) -> None:
    assert _numbers(version(name)) >= SAFE[name]
