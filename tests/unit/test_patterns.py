"""Host patterns select hosts like Ansible's, in inventory order, and refuse typos."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import InputError, Location
from engine.inventory import Inventory, load_inventory
from engine.patterns import parse_pattern, select_hosts

DATA = Path(__file__).parent.parent / "data" / "inventory"
EVERY_HOST = ("bastion", "web1", "web2", "web3", "db1", "db2", "lab1", "lab2", "lab3")


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory([DATA / "patterns" / "hosts.yml"])


@pytest.mark.parametrize("pattern", ["all", "*"])
def test_all_and_star_select_every_host_in_inventory_order(
    inventory: Inventory, pattern: str
) -> None:
    assert select_hosts(pattern, inventory) == EVERY_HOST


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("web2", ("web2",)),
        ("db", ("db1", "db2")),
        ("prod", ("web1", "web2", "web3", "db1", "db2")),
        ("ungrouped", ("bastion",)),
    ],
)
def test_names_select_a_host_or_every_host_of_a_group_and_its_children(
    inventory: Inventory, pattern: str, expected: tuple[str, ...]
) -> None:
    assert select_hosts(pattern, inventory) == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("web*", ("web1", "web2", "web3")),
        ("lab[12]", ("lab1", "lab2")),
        ("*1", ("web1", "db1", "lab1")),
        ("pro?", ("web1", "web2", "web3", "db1", "db2")),  # matches the group name
        ("nothing*", ()),
    ],
)
def test_globs_match_host_and_group_names(
    inventory: Inventory, pattern: str, expected: tuple[str, ...]
) -> None:
    assert select_hosts(pattern, inventory) == expected


def test_regex_matches_from_the_start_of_names(inventory: Inventory) -> None:
    assert select_hosts("~(web|db)[12]", inventory) == ("web1", "web2", "db1", "db2")
    assert select_hosts("~eb", inventory) == ()


@pytest.mark.parametrize("pattern", ["db:web", "db,web", "db, web", " web : db "])
def test_union_of_terms_comes_back_in_inventory_order(inventory: Inventory, pattern: str) -> None:
    assert select_hosts(pattern, inventory) == ("web1", "web2", "web3", "db1", "db2")


def test_intersection_keeps_hosts_in_both(inventory: Inventory) -> None:
    assert select_hosts("prod:&canary", inventory) == ("web3", "db2")


def test_exclusion_removes_hosts(inventory: Inventory) -> None:
    assert select_hosts("prod:!canary", inventory) == ("web1", "web2", "db1")


def test_exclusion_alone_starts_from_all(inventory: Inventory) -> None:
    assert select_hosts("!prod", inventory) == ("bastion", "lab1", "lab2", "lab3")


def test_unions_apply_first_then_intersections_then_exclusions(inventory: Inventory) -> None:
    # Written in the "wrong" order; Ansible reorders the terms, and so do we.
    assert select_hosts("!web3:&canary:prod", inventory) == ("db2",)
    assert select_hosts("&canary,web,lab*", inventory) == ("web3",)


def test_terms_are_ordered_by_operator(inventory: Inventory) -> None:
    terms = parse_pattern("!a:&b:c,d")
    assert [(t.operator, t.expression) for t in terms] == [
        ("", "c"), ("", "d"), ("&", "b"), ("!", "a")]


def test_colon_inside_a_glob_class_does_not_split(inventory: Inventory) -> None:
    assert select_hosts("lab[1:3]", inventory) == ("lab1", "lab3")


def test_unknown_name_suggests_the_closest_one(inventory: Inventory) -> None:
    with pytest.raises(InputError) as caught:
        select_hosts("wbe", inventory)
    assert str(caught.value) == "pattern 'wbe': no host or group of that name; did you mean 'web'?"


def test_unknown_name_inside_a_longer_pattern_is_named(inventory: Inventory) -> None:
    with pytest.raises(InputError, match=r"no host or group named 'prdo'; did you mean 'prod'\?"):
        select_hosts("web:!prdo", inventory)


def test_unknown_name_with_nothing_close_has_no_suggestion(inventory: Inventory) -> None:
    with pytest.raises(InputError) as caught:
        select_hosts("zzzzzz", inventory)
    assert "did you mean" not in str(caught.value)


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("", "a term is empty"),
        ("web:", "a term is empty"),
        ("web::db", "a term is empty"),
        (":web", "a term is empty"),
        ("web:&", "a term after '&' is missing"),
        ("web,!", "a term after '!' is missing"),
    ],
)
def test_empty_terms_are_syntax_errors(inventory: Inventory, pattern: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        select_hosts(pattern, inventory)
    assert str(caught.value).startswith(f"pattern {pattern!r}: {problem}; write terms like")


def test_invalid_regex_is_an_error(inventory: Inventory) -> None:
    with pytest.raises(InputError, match="invalid regex"):
        select_hosts("~web(", inventory)


def test_errors_carry_the_location_of_the_pattern(inventory: Inventory) -> None:
    with pytest.raises(InputError) as caught:
        inventory.select("wbe", Location("site.yml", 3))
    assert str(caught.value).startswith("site.yml:3: pattern 'wbe'")


def test_inventory_select_returns_hosts(inventory: Inventory) -> None:
    hosts = inventory.select("canary")
    assert [host.name for host in hosts] == ["web3", "db2"]
    assert hosts[0] is inventory.hosts["web3"]
