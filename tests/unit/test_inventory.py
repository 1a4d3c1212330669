"""Loading Ansible-style inventories: formats, groups, variable precedence, errors, rendering."""

from __future__ import annotations

import dataclasses
import os
import textwrap
from pathlib import Path

import pytest

from engine.errors import InputError, Location
from engine.inventory import Host, Inventory, load_inventory
from engine.output.inventory import ansible_list, graph_text, host_vars_json

DATA = Path(__file__).parent.parent / "data" / "inventory"
EQUIVALENT = DATA / "equivalent"
PRECEDENCE = DATA / "precedence"
FOLDER = DATA / "folder"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load_text(tmp_path: Path, name: str, text: str) -> Inventory:
    return load_inventory([write(tmp_path, name, text)])


def error_from(*sources: Path | str) -> str:
    with pytest.raises(InputError) as caught:
        load_inventory(sources)
    return str(caught.value)


def without_source(host: Host) -> Host:
    return dataclasses.replace(host, source=Location("-"))


# --- formats ---------------------------------------------------------------------------------


def test_ini_and_yaml_describe_the_same_inventory() -> None:
    from_ini = load_inventory([EQUIVALENT / "hosts.ini"])
    from_yaml = load_inventory([EQUIVALENT / "hosts.yml"])
    assert list(from_ini.hosts) == ["bastion", "web1", "web2", "web3", "db-a", "db-b"]
    assert list(from_yaml.hosts) == list(from_ini.hosts)
    assert [without_source(h) for h in from_yaml.hosts.values()] == [
        without_source(h) for h in from_ini.hosts.values()]
    assert dict(from_yaml.groups) == dict(from_ini.groups)


def test_hosts_read_their_connection_settings() -> None:
    hosts = load_inventory([EQUIVALENT / "hosts.ini"]).hosts
    assert hosts["bastion"].address == "192.0.2.1"
    assert hosts["bastion"].ssh_gateway == "jump@192.0.2.254:2222"
    assert (hosts["web1"].user, hosts["web1"].port, hosts["web1"].become) == ("deploy", 22, False)
    assert (hosts["web3"].port, hosts["web3"].become) == (2222, True)
    assert (hosts["db-b"].address, hosts["db-b"].port, hosts["db-b"].user) == (
        "10.0.0.5", 2200, "db admin")
    assert hosts["web2"].ssh_key == str(EQUIVALENT / "keys" / "prod.pem")
    assert hosts["web2"].connection == "ssh"


def test_host_source_is_where_it_was_first_defined() -> None:
    hosts = load_inventory([EQUIVALENT / "hosts.ini"]).hosts
    assert str(hosts["web3"].source) == f"{EQUIVALENT / 'hosts.ini'}:6"
    assert str(load_inventory([EQUIVALENT / "hosts.yml"]).hosts["db-a"].source).endswith(
        "hosts.yml:18")


def test_a_file_without_extension_is_yaml_when_it_reads_as_groups(tmp_path: Path) -> None:
    inventory = load_text(tmp_path, "hosts", """
        web:
          hosts:
            web1:
    """)
    assert inventory.groups["web"].hosts == ("web1",)


def test_a_file_without_extension_is_ini_otherwise(tmp_path: Path) -> None:
    inventory = load_text(tmp_path, "hosts", """
        [web]
        web1 http_port=80
    """)
    assert inventory.hosts["web1"].vars == {"http_port": 80}


def test_ini_values_are_typed_like_ansible(tmp_path: Path) -> None:
    inventory = load_text(tmp_path, "hosts.ini", """
        [web]
        web1 count=3 ratio=1.5 flag=True word=true items="[1, 2]" name="two words" path=/srv

        [web:vars]
        greeting = hello world
        quoted = "spaced out "
        mapping = {"a": 1}
        tuple = (1, 2)
    """)
    assert dict(inventory.hosts["web1"].vars) == {
        "greeting": "hello world", "quoted": "spaced out ", "mapping": {"a": 1},
        "tuple": "(1, 2)", "count": 3, "ratio": 1.5, "flag": True, "word": "true",
        "items": [1, 2], "name": "two words", "path": "/srv"}


def test_yaml_hosts_are_defined_in_the_order_they_are_written(tmp_path: Path) -> None:
    inventory = load_text(tmp_path, "hosts.yml", """
        all:
          children:
            web:
              hosts:
                web1:
          hosts:
            bastion:
    """)
    assert list(inventory.hosts) == ["web1", "bastion"]


def test_values_are_kept_as_written_without_templating(tmp_path: Path) -> None:
    inventory = load_text(tmp_path, "hosts.yml", """
        all:
          hosts:
            web1:
              url: "http://{{ address }}:{{ port }}"
    """)
    assert inventory.hosts["web1"].vars["url"] == "http://{{ address }}:{{ port }}"


# --- groups ----------------------------------------------------------------------------------


def test_hosts_before_any_section_are_ungrouped() -> None:
    inventory = load_inventory([EQUIVALENT / "hosts.ini"])
    assert inventory.groups["ungrouped"].hosts == ("bastion",)
    assert inventory.hosts["bastion"].groups == ("all", "ungrouped")


def test_all_and_ungrouped_always_exist(tmp_path: Path) -> None:
    inventory = load_text(tmp_path, "hosts.ini", "[web]\nweb1\n")
    assert inventory.groups["all"].children == ("ungrouped", "web")
    assert inventory.groups["ungrouped"].hosts == ()


def test_all_lists_every_host_other_groups_their_direct_members() -> None:
    inventory = load_inventory([EQUIVALENT / "hosts.yml"])
    assert inventory.groups["all"].hosts == tuple(inventory.hosts)
    assert inventory.groups["prod"].hosts == ()
    assert inventory.groups["prod"].children == ("web", "db")
    assert inventory.groups["web"].hosts == ("web1", "web2", "web3")


def test_nested_children_give_hosts_every_ancestor_group_all_first() -> None:
    hosts = load_inventory([PRECEDENCE / "hosts.ini"]).hosts
    assert hosts["node1"].groups == ("all", "site", "app", "alpha", "beta")
    assert hosts["node2"].groups == ("all", "site", "app", "beta")


def test_host_in_several_groups_appears_once(tmp_path: Path) -> None:
    inventory = load_text(tmp_path, "hosts.ini", """
        [web]
        node1 a=1
        [db]
        node1 b=2
    """)
    assert list(inventory.hosts) == ["node1"]
    assert dict(inventory.hosts["node1"].vars) == {"a": 1, "b": 2}
    assert inventory.select("web:db") == (inventory.hosts["node1"],)


def test_a_host_listed_under_all_and_a_group_is_not_ungrouped(tmp_path: Path) -> None:
    inventory = load_text(tmp_path, "hosts.yml", """
        all:
          hosts:
            solo:
            both:
          children:
            web:
              hosts:
                both:
    """)
    assert inventory.groups["ungrouped"].hosts == ("solo",)


def test_ini_children_may_be_declared_after_their_parent(tmp_path: Path) -> None:
    inventory = load_text(tmp_path, "hosts.ini", """
        [prod:children]
        web
        [web]
        web1
    """)
    assert inventory.hosts["web1"].groups == ("all", "prod", "web")


# --- variable precedence ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def node1() -> Host:
    return load_inventory([PRECEDENCE / "hosts.ini"]).hosts["node1"]


def test_all_group_vars_reach_every_host(node1: Host) -> None:
    assert node1.vars["from_all"] == "all-inline"


def test_child_group_vars_override_parent_group_vars(node1: Host) -> None:
    assert node1.vars["child_vs_parent"] == "app"


def test_sibling_groups_at_the_same_depth_merge_by_name(node1: Host) -> None:
    assert node1.vars["sibling"] == "beta"


def test_group_vars_file_overrides_inline_group_vars(node1: Host) -> None:
    assert node1.vars["file_vs_inline"] == "alpha-file"


def test_group_vars_all_file_overrides_inline_vars_of_any_group(node1: Host) -> None:
    # Ansible's order: every inline group var < group_vars/all < group_vars/<group>.
    assert node1.vars["all_file_vs_child_inline"] == "all-file"


def test_host_vars_file_overrides_inline_host_and_group_vars(node1: Host) -> None:
    assert node1.vars["host_level"] == "node1-file"


def test_dict_values_are_replaced_not_merged(node1: Host) -> None:
    assert node1.vars["settings"] == {"a": 9}
    other = load_inventory([PRECEDENCE / "hosts.ini"]).hosts["node2"]
    assert other.vars["settings"] == {"a": 1, "b": 2}


def test_inline_host_vars_override_group_vars(tmp_path: Path) -> None:
    inventory = load_text(tmp_path, "hosts.ini", """
        [web]
        web1 level=host
        [web:vars]
        level=group
    """)
    assert inventory.hosts["web1"].vars["level"] == "host"


def test_ansible_group_priority_orders_groups_at_the_same_depth(tmp_path: Path) -> None:
    inventory = load_text(tmp_path, "hosts.ini", """
        [alpha]
        node1
        [beta]
        node1
        [alpha:vars]
        level=alpha
        ansible_group_priority=10
        [beta:vars]
        level=beta
    """)
    assert inventory.hosts["node1"].vars["level"] == "alpha"
    assert inventory.hosts["node1"].groups == ("all", "beta", "alpha")


def test_group_vars_are_the_groups_own_inline_then_file_vars() -> None:
    groups = load_inventory([PRECEDENCE / "hosts.ini"]).groups
    assert dict(groups["alpha"].vars) == {
        "sibling": "alpha", "file_vs_inline": "alpha-file",
        "all_file_vs_child_inline": "alpha-inline", "host_level": "alpha-inline"}


# --- sources: folders, repeated -i, vars folders ---------------------------------------------


@pytest.fixture(scope="module")
def folder_inventory() -> Inventory:
    return load_inventory([FOLDER])


def test_folder_source_reads_inventory_files_in_sorted_order(folder_inventory: Inventory) -> None:
    # README.md, *.bak, *.retry and dotfiles in the folder are not inventories.
    assert list(folder_inventory.hosts) == ["web1", "web2", "db1", "web3"]
    assert folder_inventory.groups["web"].hosts == ("web1", "web2", "web3")
    assert folder_inventory.sources == (str(FOLDER),)


def test_group_vars_folder_merges_its_files_in_sorted_order(folder_inventory: Inventory) -> None:
    web3 = folder_inventory.hosts["web3"]
    # 10-ports.yml says 8080, 20-names.yaml says 8081; "backup~" is skipped.
    assert (web3.vars["http_port"], web3.vars["site_name"]) == (8081, "shop")


def test_group_vars_file_without_extension_is_read(folder_inventory: Inventory) -> None:
    assert folder_inventory.hosts["db1"].vars["db_engine"] == "postgres"


def test_group_vars_all_file_reaches_every_host(folder_inventory: Inventory) -> None:
    assert {h.vars["ntp_server"] for h in folder_inventory.hosts.values()} == {"pool.ntp.org"}


def test_host_vars_as_file_and_as_folder(folder_inventory: Inventory) -> None:
    assert folder_inventory.hosts["web1"].vars["role"] == "primary"
    db1 = folder_inventory.hosts["db1"]
    assert (db1.port, db1.vars["password"]) == (2222, "hunter2")


def test_group_vars_for_an_unknown_group_are_ignored(folder_inventory: Inventory) -> None:
    assert all("ignored" not in host.vars for host in folder_inventory.hosts.values())
    assert "nosuchgroup" not in folder_inventory.groups


def test_group_vars_beside_an_inventory_file_are_read() -> None:
    assert "file_vs_inline" in load_inventory([PRECEDENCE / "hosts.ini"]).groups["alpha"].vars


def test_repeated_sources_merge_in_order(tmp_path: Path) -> None:
    first = write(tmp_path / "one", "hosts.ini", """
        [web]
        web1 colour=red size=1
        [web:vars]
        tier=front
    """)
    second = write(tmp_path / "two", "hosts.yml", """
        web:
          hosts:
            web1:
              colour: blue
            web2:
          vars:
            tier: edge
    """)
    write(tmp_path / "two", "group_vars/web.yml", "from_second_folder: true\n")
    inventory = load_inventory([first, second])
    assert list(inventory.hosts) == ["web1", "web2"]
    assert dict(inventory.hosts["web1"].vars) == {
        "colour": "blue", "size": 1, "tier": "edge", "from_second_folder": True}
    assert inventory.sources == (str(first), str(second))


def test_a_file_and_a_folder_can_be_combined() -> None:
    inventory = load_inventory([EQUIVALENT / "hosts.ini", FOLDER])
    assert inventory.groups["web"].hosts == ("web1", "web2", "web3")
    assert "db-a" in inventory.hosts and "db1" in inventory.hosts
    # group_vars/ of the folder apply to web hosts that came from the file, too.
    assert inventory.hosts["web1"].vars["http_port"] == 8081


# --- connection variables --------------------------------------------------------------------


def test_ansible_spellings_set_the_connection_fields(tmp_path: Path) -> None:
    host = load_text(tmp_path, "hosts.yml", """
        all:
          hosts:
            web1:
              ansible_host: 10.1.1.1
              ansible_port: "2022"
              ansible_user: ops
              ansible_ssh_private_key_file: /keys/ops
              ansible_connection: local
              ansible_become: "yes"
    """).hosts["web1"]
    assert (host.address, host.port, host.user, host.ssh_key, host.connection, host.become) == (
        "10.1.1.1", 2022, "ops", "/keys/ops", "local", True)
    assert host.vars["ansible_host"] == "10.1.1.1"


def test_short_spelling_wins_over_the_ansible_spelling(tmp_path: Path) -> None:
    host = load_text(tmp_path, "hosts.ini", """
        [web]
        web1 address=10.0.0.1 user=me port=2200
        [web:vars]
        ansible_host=10.9.9.9
        ansible_user=them
        ansible_port=2299
    """).hosts["web1"]
    assert (host.address, host.user, host.port) == ("10.0.0.1", "me", 2200)


def test_defaults_when_nothing_is_set(tmp_path: Path) -> None:
    host = load_text(tmp_path, "hosts.ini", "web1\n").hosts["web1"]
    assert (host.address, host.port, host.user, host.ssh_key, host.connection, host.become,
            host.ssh_gateway) == ("web1", 22, None, None, "ssh", False, None)


@pytest.mark.parametrize(
    ("written", "expected"),
    [("yes", True), ("no", False), ("true", True), ("False", False), ("1", True), ("0", False),
     ("on", True), ("off", False)],
)
def test_become_accepts_ansible_boolean_strings(
    tmp_path: Path, written: str, expected: bool
) -> None:
    host = load_text(tmp_path, "hosts.ini", f"web1 become={written}\n").hosts["web1"]
    assert host.become is expected


def test_ssh_key_is_expanded_and_relative_to_the_inventory_folder(tmp_path: Path) -> None:
    inventory = load_text(tmp_path, "hosts.ini", """
        web1 ssh_key=keys/id_web
        web2 ansible_ssh_private_key_file=~/.ssh/id_lab
    """)
    assert inventory.hosts["web1"].ssh_key == str(tmp_path / "keys" / "id_web")
    assert inventory.hosts["web2"].ssh_key == os.path.expanduser("~/.ssh/id_lab")


def test_host_entry_port_suffix_sets_ansible_port(tmp_path: Path) -> None:
    host = load_text(tmp_path, "hosts.ini", "web1:2201\n").hosts["web1"]
    assert (host.port, host.vars["ansible_port"]) == (2201, 2201)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("web1 port=0", "port 0 is not a TCP port; use a number from 1 to 65535"),
        ("web1 ansible_port=70000", "port 70000 is not a TCP port"),
        ("web1 port=ssh", "port 'ssh' is not a TCP port"),
        ("web1 connection=winrm", "connection 'winrm' is not supported; use 'ssh' or 'local'"),
        ("web1 ansible_become=maybe", "become must be true or false (yes/no), got 'maybe'"),
        ("web1 address=[1]", "address must be a non-empty string, got [1]"),
    ],
)
def test_bad_connection_values_are_errors_at_their_line(
    tmp_path: Path, line: str, message: str
) -> None:
    path = write(tmp_path, "hosts.ini", f"# fleet\n\n{line}\n")
    assert error_from(path).startswith(f"{path}:3: host 'web1': {message}")


def test_bad_port_in_a_vars_file_is_reported_in_that_file(tmp_path: Path) -> None:
    inventory_file = write(tmp_path, "hosts.ini", "[web]\nweb1\n")
    vars_file = write(tmp_path, "group_vars/web.yml", "user: deploy\nport: 99999\n")
    assert error_from(inventory_file).startswith(f"{vars_file}:2: host 'web1': port 99999")


# --- host ranges -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("web[1:3]", ["web1", "web2", "web3"]),
        ("web[01:03].lan", ["web01.lan", "web02.lan", "web03.lan"]),
        ("web[08:10]", ["web08", "web09", "web10"]),
        ("node[0:6:3]", ["node0", "node3", "node6"]),
        ("db-[a:c]", ["db-a", "db-b", "db-c"]),
        ("r[1:2]-[a:b]", ["r1-a", "r1-b", "r2-a", "r2-b"]),
        ("web[:1]", ["web0", "web1"]),
    ],
)
def test_host_ranges_expand_in_ini_and_yaml(
    tmp_path: Path, entry: str, expected: list[str]
) -> None:
    from_ini = load_text(tmp_path, "hosts.ini", f"[g]\n{entry}\n")
    from_yaml = load_text(tmp_path, "hosts.yml", f"g:\n  hosts:\n    {entry}:\n")
    assert list(from_ini.hosts) == expected
    assert list(from_yaml.hosts) == expected


def test_a_range_with_a_port_gives_every_host_that_port(tmp_path: Path) -> None:
    inventory = load_text(tmp_path, "hosts.ini", "web[1:2]:2222\n")
    assert [h.port for h in inventory.hosts.values()] == [2222, 2222]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("web[1:2:3:4]", "must be [begin:end] or [begin:end:step]"),
        ("web[1]", "must be [begin:end] or [begin:end:step]"),
        ("web[1:]", "has no end value"),
        ("web[01:100]", "zero-padded begin and end must have the same width"),
        ("web[3:1]", "must have begin <= end"),
        ("web[c:a]", "must have begin <= end"),
        ("web[1:x]", "must be numbers (01:10) or single letters (a:f)"),
        ("web[1:3:0]", "the step must be a positive whole number"),
        ("web[1:3", "has no closing ']'"),
    ],
)
def test_bad_host_ranges_are_errors_at_their_line(
    tmp_path: Path, entry: str, message: str
) -> None:
    path = write(tmp_path, "hosts.ini", f"[web]\n{entry}\n")
    error = error_from(path)
    assert error.startswith(f"{path}:2: ")
    assert message in error


# --- errors in INI files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("[web]\nweb1\n[web:child]\nweb1\n", 3,
         "unknown section type 'child' in '[web:child]'; expected [group], [group:vars] or "
         "[group:children]; did you mean 'children'?"),
        ("[web servers]\n", 1, "invalid section header '[web servers]'"),
        ("[web]\nweb1 ansible_user\n", 2, "expected key=value after host 'web1', got "
         "'ansible_user'"),
        ("[web]\nweb1 name=\"unclosed\n", 2, "cannot read host line"),
        ("[web]\nweb1\n[web:vars]\nhttp_port\n", 4,
         "expected key=value in a :vars section, got 'http_port'"),
        ("[web]\nweb1\n[wbe:vars]\nx=1\n", 3,
         "[wbe:vars] is for group 'wbe', which is not defined; add a [wbe] section; "
         "did you mean 'web'?"),
        ("[prod:children]\nweb prod\n", 2, "expected a group name in a :children section"),
        ("[web]\nweb1:\n", 2, "a ':' must be followed by a port number"),
        ("# comment\n---\n", 2, "host entry '---' looks like the start of a YAML document"),
    ],
)
def test_ini_mistakes_are_reported_with_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = write(tmp_path, "hosts.ini", text)
    error = error_from(path)
    assert error.startswith(f"{path}:{line}: ")
    assert message in error


# --- errors in YAML files --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("all:\n  children:\n    web:\n      - web1\n", 3, "group 'web' must be a mapping"),
        ("web:\n  hosts:\n    - web1\n", 2, "hosts: of group 'web' must be a mapping"),
        ("web:\n  vars: port=22\n", 2, "vars: of group 'web' must be a mapping"),
        ("web:\n  hosts:\n    web1: 10.0.0.1\n", 3, "host 'web1' must map to its variables"),
        ("plugin: aws_ec2\n", 1, "inventory plugins (`plugin:`) are not supported"),
        ("- web1\n- web2\n", 1, "a YAML inventory must be a mapping of group names"),
        ("all:\n  hosts:\n    web1: {port: 1\n", 4, "invalid YAML"),
        ("web:\n  hosts:\n    web[1:x]:\n", 3, "must be numbers (01:10) or single letters"),
    ],
)
def test_yaml_mistakes_are_reported_with_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = write(tmp_path, "hosts.yml", text)
    error = error_from(path)
    assert error.startswith(f"{path}:{line}: ")
    assert message in error


# --- what Ansible reads with a warning ------------------------------------------------------


def test_unknown_yaml_group_key_is_skipped_with_ansibles_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts.yml", """
        all:
          children:
            web:
              host:
                web9:
              hosts:
                web1:
        """)
    inventory = load_inventory([path])
    assert list(inventory.hosts) == ["web1"]
    assert inventory.warnings == (
        f"{path}:4: Skipping unexpected key (host) in group (web), only \"vars\", "
        "\"children\" and \"hosts\" are valid; did you mean 'hosts'?",)


def test_children_naming_an_undefined_group_makes_it_with_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts.ini", "[texas]\ntx1\n[usa:children]\ntexas\nohio\n")
    inventory = load_inventory([path])
    assert inventory.groups["ohio"].hosts == ()
    assert inventory.groups["usa"].children == ("texas", "ohio")
    assert [host.name for host in inventory.select("usa")] == ["tx1"]
    assert inventory.warnings == (
        f"{path}:5: Section [usa:children] includes undefined group: ohio; it is made an "
        "empty group (add a [ohio] section to give it hosts)",)


def test_a_child_defined_later_in_the_file_gives_no_warning(tmp_path: Path) -> None:
    inventory = load_text(tmp_path, "hosts.ini", "[usa:children]\ntexas\n[texas]\ntx1\n")
    assert inventory.warnings == ()
    assert [host.name for host in inventory.select("usa")] == ["tx1"]


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "---\n"])
def test_empty_yaml_inventory_loads_no_hosts_with_a_warning(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "hosts.yml", text)
    other = write(tmp_path, "more.ini", "web1\n")
    inventory = load_inventory([path, other])
    assert list(inventory.hosts) == ["web1"]
    assert inventory.warnings == (
        f"{path}:1: Parsed empty YAML file: it adds no hosts (Ansible skips it too); write "
        "`all:` with `hosts:` under it",)


def test_empty_ini_inventory_loads_without_a_warning(tmp_path: Path) -> None:
    inventory = load_text(tmp_path, "hosts", "")
    assert (dict(inventory.hosts), inventory.warnings) == ({}, ())


def test_non_utf8_comment_lines_read_as_blank(tmp_path: Path) -> None:
    path = tmp_path / "hosts.ini"
    path.write_bytes("# caf\xe9 en Latin-1\n[web]\nweb1 motd=ok\n".encode("latin-1"))
    inventory = load_inventory([path])
    assert inventory.hosts["web1"].vars["motd"] == "ok"
    assert inventory.warnings == ()


def test_non_utf8_values_load_with_a_warning_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    path.write_bytes("[web]\nweb1 motd=caf\xe9\nweb2\n".encode("latin-1"))
    inventory = load_inventory([path])
    assert list(inventory.hosts) == ["web1", "web2"]
    assert inventory.hosts["web1"].vars["motd"] == "caf\ufffd"
    assert inventory.warnings == (
        f"{path}:2: this line is not UTF-8 text: its bad bytes read as U+FFFD (\ufffd); save "
        "the file as UTF-8",)


def test_yaml_inventory_in_latin1_loads_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yml"
    path.write_bytes("web:\n  hosts:\n    web1:\n      motd: caf\xe9\n".encode("latin-1"))
    inventory = load_inventory([path])
    assert inventory.hosts["web1"].vars["motd"] == "caf\ufffd"
    assert inventory.warnings[0].startswith(f"{path}:4: this line is not UTF-8 text")


def test_cli_prints_inventory_warnings_on_stderr(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli import main

    path = write(tmp_path, "hosts.ini", "[texas]\ntx1\n[usa:children]\ntexas\nohio\n")
    assert main(["inventory", "-i", str(path), "--list"]) == 0
    assert f"warning: {path}:5: Section [usa:children] includes undefined group: ohio" in (
        capsys.readouterr().err)


# --- errors in the whole inventory -----------------------------------------------------------


def test_vars_file_that_is_not_a_mapping_is_an_error(tmp_path: Path) -> None:
    inventory_file = write(tmp_path, "hosts.ini", "[web]\nweb1\n")
    vars_file = write(tmp_path, "group_vars/web/ports.yml", "# ports\n- 80\n- 443\n")
    assert error_from(inventory_file) == (
        f"{vars_file}:2: a group_vars file must be a mapping of variable names to values, "
        "got a list")


def test_cycle_in_children_names_the_cycle(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts.ini", """
        [a:children]
        b
        [b:children]
        c
        [c:children]
        a
    """)
    assert error_from(path) == f"{path}:6: groups form a cycle through children: a -> b -> c -> a"


def test_group_that_is_its_own_child_is_a_cycle(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts.yml", "web:\n  children:\n    web:\n")
    assert error_from(path) == f"{path}:3: groups form a cycle through children: web -> web"


def test_all_cannot_be_a_child(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts.yml", "web:\n  children:\n    all:\n")
    assert error_from(path).startswith(f"{path}:3: group 'all' cannot be a child of 'web'")


def test_bad_group_priority_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts.ini", "[web]\nweb1\n[web:vars]\nansible_group_priority=high\n")
    assert error_from(path) == (
        f"{path}:4: group 'web': ansible_group_priority must be a whole number, got 'high'")


def test_missing_source_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.ini"
    assert error_from(missing) == (
        f"{missing}: inventory source not found; pass an inventory file or folder with -i")


# --- rendering -------------------------------------------------------------------------------


def test_list_has_the_shape_of_ansible_inventory_list() -> None:
    listing = ansible_list(load_inventory([EQUIVALENT / "hosts.ini"]))
    prod_vars = {"env": "production", "replicas": 3, "ssh_key": "keys/prod.pem"}
    db_vars = {**prod_vars, "address": "10.0.0.5", "port": 2200, "user": "db admin"}
    assert listing == {
        "_meta": {"hostvars": {
            "bastion": {"ansible_host": "192.0.2.1", "ssh_gateway": "jump@192.0.2.254:2222"},
            "db-a": db_vars,
            "db-b": db_vars,
            "web1": {**prod_vars, "ansible_user": "deploy"},
            "web2": {**prod_vars, "ansible_user": "deploy"},
            "web3": {**prod_vars, "ansible_port": 2222, "become": True},
        }},
        "all": {"children": ["ungrouped", "prod"]},
        "db": {"hosts": ["db-a", "db-b"]},
        "prod": {"children": ["web", "db"]},
        "ungrouped": {"hosts": ["bastion"]},
        "web": {"hosts": ["web1", "web2", "web3"]},
    }
    assert list(listing) == sorted(listing)


def test_list_drops_empty_groups_and_hosts_without_vars(tmp_path: Path) -> None:
    listing = ansible_list(load_text(tmp_path, "hosts.ini", "[web]\nweb1\n[empty]\n"))
    assert listing == {
        "_meta": {"hostvars": {}},
        "all": {"children": ["ungrouped", "web", "empty"]},
        "web": {"hosts": ["web1"]},
    }


def test_host_vars_json_is_the_merged_vars_of_one_host(folder_inventory: Inventory) -> None:
    assert host_vars_json(folder_inventory, "db1") == {
        "db_engine": "postgres", "ntp_server": "pool.ntp.org", "password": "hunter2",
        "port": 2222}



def test_list_and_host_mask_secret_vars_and_become_passwords(tmp_path: Path) -> None:
    inventory = load_text(tmp_path, "hosts.yml", """
all:
  hosts:
    web1:
      become_password: sudo-pw-1
      ansible_become_pass: sudo-pw-2
      secret_vars: [db_password]
      db_password: {user: app, password: db-pw-3}
      db_url: "postgres://app:db-pw-3@db"
      port: 22
""")
    expected = {"ansible_become_pass": "********", "become_password": "********",
                "db_password": "********", "db_url": "postgres://********:********@db",
                "port": 22, "secret_vars": ["db_password"]}
    assert host_vars_json(inventory, "web1") == expected
    assert ansible_list(inventory)["_meta"]["hostvars"]["web1"] == expected


def test_host_vars_json_of_an_unknown_host_suggests_one(folder_inventory: Inventory) -> None:
    with pytest.raises(InputError) as caught:
        host_vars_json(folder_inventory, "dbl")
    assert str(caught.value) == "no host named 'dbl' in the inventory; did you mean 'db1'?"


def test_graph_draws_the_group_tree_like_ansible() -> None:
    inventory = load_inventory([EQUIVALENT / "hosts.yml"])
    assert graph_text(inventory) == textwrap.dedent("""\
        @all:
          |--@ungrouped:
          |  |--bastion
          |--@prod:
          |  |--@web:
          |  |  |--web1
          |  |  |--web2
          |  |  |--web3
          |  |--@db:
          |  |  |--db-a
          |  |  |--db-b
        """)


def test_graph_can_start_at_a_group() -> None:
    inventory = load_inventory([EQUIVALENT / "hosts.ini"])
    assert graph_text(inventory, "web") == "@web:\n  |--web1\n  |--web2\n  |--web3\n"


def test_graph_of_an_unknown_group_suggests_one() -> None:
    with pytest.raises(InputError, match=r"no group 'wbe'; did you mean 'web'\?"):
        graph_text(load_inventory([EQUIVALENT / "hosts.ini"]), "wbe")
