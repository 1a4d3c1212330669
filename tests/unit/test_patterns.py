"""Host patterns select hosts like Ansible's (ansible-core's inventory/manager.py), in the
order of their terms, and refuse typos."""

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
        ("lab[!2]", ("lab1", "lab3")),
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


@pytest.mark.parametrize("pattern", ["db:web", "db,web", "db, web", " db : web "])
def test_union_comes_back_in_the_order_of_its_terms(inventory: Inventory, pattern: str) -> None:
    assert select_hosts(pattern, inventory) == ("db1", "db2", "web1", "web2", "web3")


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("web2:web", ("web2", "web1", "web3")),      # a host term first, then the group's rest
        ("canary:prod", ("web3", "db2", "web1", "web2", "db1")),
        ("lab:db:!db1", ("lab1", "lab2", "lab3", "db2")),
        ("db:web:&prod", ("db1", "db2", "web1", "web2", "web3")),
        ("canary:web:!lab1", ("web3", "db2", "web1", "web2")),
    ],
)
def test_filters_keep_the_order_of_the_union_terms(
    inventory: Inventory, pattern: str, expected: tuple[str, ...]
) -> None:
    assert select_hosts(pattern, inventory) == expected


def test_all_lists_hosts_as_ansible_walks_the_groups(tmp_path: Path) -> None:
    # Ansible walks `all`: its own and ungrouped hosts, then each top-level group (in the order
    # groups were made), then their children. db1 comes before web1 here, although web1 is
    # written first, because web sits one level deeper (under prod).
    inventory_file = tmp_path / "hosts.ini"
    inventory_file.write_text("[prod:children]\nweb\n[web]\nweb1\n[db]\ndb1\n[other]\nx1\n"
                              "[prod]\np1\n", encoding="utf-8")
    inventory = load_inventory([inventory_file])
    assert select_hosts("all", inventory) == ("p1", "db1", "x1", "web1")
    assert select_hosts("prod", inventory) == ("p1", "web1")


def test_a_host_in_two_groups_keeps_its_first_place(inventory: Inventory) -> None:
    assert select_hosts("canary:web:db", inventory) == ("web3", "db2", "web1", "web2", "db1")


# Ansible's subscripts (ansible-core's _apply_subscript): an index, or an inclusive range
@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("web[0]", ("web1",)),
        ("web[-1]", ("web3",)),
        ("web[0:1]", ("web1", "web2")),
        ("web[1:]", ("web2", "web3")),
        ("prod[2:3]", ("web3", "db1")),
        ("web[1:1]", ("web2",)),
        ("db:web[0]", ("db1", "db2", "web1")),
        ("prod:!prod[0]", ("web2", "web3", "db1", "db2")),
        ("lab[1:3]", ("lab2", "lab3")),
        ("lab[12:]", ()),                          # a range past the end selects nothing
    ],
)
def test_subscripts_pick_hosts_by_position_in_the_term(
    inventory: Inventory, pattern: str, expected: tuple[str, ...]
) -> None:
    assert select_hosts(pattern, inventory) == expected


def test_an_index_past_the_end_is_an_error(inventory: Inventory) -> None:
    with pytest.raises(InputError) as caught:
        select_hosts("web[3]", inventory)
    assert str(caught.value) == ("pattern 'web[3]': no host at index 3: the term selects 3 "
                                 "host(s), so indexes run from 0 to 2 (or -1 to -3)")


def test_a_range_without_a_start_says_what_to_write(inventory: Inventory) -> None:
    with pytest.raises(InputError, match=r"write 'web\[0:1\]' for its first 2 hosts"):
        select_hosts("web[:2]", inventory)


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
    assert select_hosts("lab[!1:]", inventory) == ("lab2", "lab3")


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
