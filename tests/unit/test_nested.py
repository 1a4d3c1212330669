"""The one walk over nested values (engine/nested.py): reading leaves, and rebuilding."""

from __future__ import annotations

from dataclasses import dataclass

from engine.nested import leaves, rebuilt


@dataclass(frozen=True)
class Check:
    cmd: str
    retries: int


def test_rebuilt_applies_the_leaf_to_values_and_keys_and_makes_tuples_lists() -> None:
    value = {"a": ("x", 1), "b": {"c": "y"}}
    assert rebuilt(value, lambda leaf: leaf * 2) == {"aa": ["xx", 2], "bb": {"cc": "yy"}}
    assert rebuilt(value, lambda leaf: leaf, key=str.upper) == {
        "A": ["x", 1], "B": {"C": "y"}}


def test_a_dataclass_is_a_leaf_unless_asked_to_walk_it() -> None:
    check = Check("true", 3)
    assert rebuilt([check], lambda leaf: leaf) == [check]
    assert rebuilt([check], lambda leaf: leaf, with_dataclasses=True) == [
        {"cmd": "true", "retries": 3}]
    assert [leaf for _, leaf in leaves(check)] == ["true", 3]
