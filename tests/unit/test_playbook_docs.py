"""docs/playbook.md is generated from the loader's own tables: these tests fail when a key
exists that the reference does not describe (or the other way round), and when the page
is not what the generator writes today."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from engine.actions.catalog import CATALOG
from engine.playbook import docs
from engine.registry.config import ETCD_KEYS, FILE_KEYS

PAGE = Path(__file__).resolve().parents[2] / "docs" / "playbook.md"
FIX = "describe it in engine/playbook/docs.py, then run " + docs.COMMAND


def differences(keys: Iterable[str], described: Mapping[str, object],
                ) -> tuple[list[str], list[str]]:
    """(keys the loader has and the reference lacks, keys only the reference has)."""
    return sorted(set(keys) - set(described)), sorted(set(described) - set(keys))


@pytest.mark.parametrize("table", docs.tables(), ids=lambda table: table.title)
def test_every_key_the_loader_accepts_is_described_and_no_other(
        table: docs.Table) -> None:
    undescribed, unknown = differences(table.keys, table.described)
    assert not undescribed, f"{table.title}: {undescribed} accepted but undescribed: {FIX}"
    assert not unknown, f"{table.title}: {unknown} described but not accepted by the loader"
    for key, values, meanings in table.choices:
        undescribed, unknown = differences(values, meanings)
        assert not undescribed and not unknown, \
            f"{table.title} {key}: values without a meaning {undescribed}, unknown {unknown}"


def test_every_action_and_each_of_its_arguments_is_described() -> None:
    undescribed, unknown = differences(tuple(CATALOG), docs.ACTIONS)
    assert not undescribed, f"actions {undescribed} have no reference: {FIX}"
    assert not unknown, f"docs.ACTIONS describes {unknown}, which CATALOG does not have"
    for action, entry in CATALOG.items():
        undescribed, unknown = differences(entry.allowed, docs.ACTIONS[action][1])
        assert not undescribed, f"{action}: arguments {undescribed} undescribed: {FIX}"
        assert not unknown, f"{action}: {unknown} described but not accepted"


def test_every_registry_setting_is_described_with_its_backends() -> None:
    by_backend = {"file": set(FILE_KEYS), "etcd": set(ETCD_KEYS)}
    for backend, keys in by_backend.items():
        described = {key for key, (backends, _) in docs.REGISTRY.items()
                     if backend in backends.split()}
        assert described == keys, \
            f"{backend} registry settings: accepted {sorted(keys - described)} undescribed, " \
            f"{sorted(described - keys)} described but not accepted"


def test_the_page_is_what_the_generator_writes() -> None:
    written = docs.playbook_reference()
    assert PAGE.read_text(encoding="utf-8") == written, \
        f"docs/playbook.md is out of date: run {docs.COMMAND}"


def test_the_page_says_in_its_first_line_it_is_generated_and_how() -> None:
    first = PAGE.read_text(encoding="utf-8").splitlines()[0]
    assert "Generated" in first and docs.COMMAND in first


def test_required_keys_are_marked_and_a_missing_description_names_its_key() -> None:
    page = docs.playbook_reference()
    assert "| `image` | required |" in page and "| `dest` | required |" in page
    broken = docs.Table("Play keys", "", ("name", "no_such_key"), docs.PLAY)
    with pytest.raises(LookupError, match="no_such_key"):
        list(docs._table_lines(broken))
