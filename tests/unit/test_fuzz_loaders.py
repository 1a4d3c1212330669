"""Fuzz every loader that reads user input: whatever a file or option holds, play either
accepts it or raises `InputError` (the CLI: exit 0 or 4 with a `file:` message), never a
traceback.

Documents are drawn two ways: structurally plausible (real keys such as hosts/tasks/
containers with wrong types, missing keys and hostile names) and raw text or bytes.
Each property is bounded by `max_examples`: the file takes about 15 s of CPU time.
Hypothesis' example database is off so that nothing is written into the repository;
a failure prints the reproducing example and its `@reproduce_failure` blob.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.cli import main
from engine.errors import EXIT_INVALID, EXIT_OK, InputError
from engine.inventory import Inventory, load_inventory
from engine.patterns import parse_pattern, select_hosts
from engine.playbook import load_playbook
from engine.variables import parse_extra_vars

# PLAY_FUZZ_SCALE=20 fuzzes twenty times longer (when hunting bugs, not in CI).
SCALE = float(os.environ.get("PLAY_FUZZ_SCALE", "1"))


def fuzz(examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Bounded, IO-tolerant settings; no example database in the work tree."""
    return settings(max_examples=max(1, int(examples * SCALE)), deadline=None, database=None,
                    print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# --- names and values -------------------------------------------------------------------

HOSTILE_NAMES = (
    "web1", "web2", "db1", "db", "web", "all", "ungrouped", "api", "a:b", "a/b", "../etc",
    "../../x", "--privileged", "-e", "$(touch /tmp/pwned)", "`id`", "; rm -rf /", "a|b",
    "x\ny", "x\x00y", "x\ty", "\x1b[31m", "ü", "名前", "🚀", "", " ", "{{ x }}", "{{", "}}",
    "{%", "{#", "*", "?", "~web.*", "~(", "!web1", "&db", "web1:2222", "web:99999",
    "web[1:3]", "web[01:10]", "web[1:99999999]", "web[a:Z][a:Z][a:Z][a:Z]", "web[3:1]",
    "web[1:2:0]", "web[", "web]", "[1:2]", "-", "---", "null", "~", "yes", "0x1F", "1e999",
    "=", "a=b", "'", '"', "\\", "%", "30%", "x" * 300, "container:api", "task:",
    "service:api", "²", "٣",
)

# YAML that no Python value dumps to: tags, aliases, odd literals. A value drawn as
# RAWYAMLnX is replaced by RAW_YAML[n] after dumping.
RAW_YAML = (
    "2001-01-01", "2001-02-30", "!!binary aGVsbG8=", "!!set {a: null}", "!!omap [{a: 1}]",
    "!!python/object/apply:os.system ['true']", "!!python/name:os.system", "*nope", "&x [*x]",
    "0o17", "0x1F", "1_000", ".nan", "-.inf", "~", "!!int x", "!!bool maybe", "!!float x",
    "!!timestamp x", "!custom x", "1" + "0" * 5000, "{<<: {a: 1}}", "{<<: 1}", "? [a]",
    "|\n  text", "'unterminated", "[" * 150 + "]" * 150, "@", "`", "!<tag:yaml.org,2002:str> x",
    "{a: 1, a: 2}", "[&a x, *a, *a]",
)
raw_yaml = st.integers(0, len(RAW_YAML) - 1).map("RAWYAML{}X".format)

names = st.one_of(st.sampled_from(HOSTILE_NAMES), st.text(max_size=12))
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), names, raw_yaml,
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.one_of(names, st.integers(), st.booleans()), children, max_size=3),
    max_leaves=6,
)


def maybe(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the plausible value, sometimes any value at all (a wrong type)."""
    return st.one_of(plausible, plausible, values)


def mapping(required: dict[str, st.SearchStrategy[Any]],
            optional: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """A mapping with real keys (each possibly missing), plus now and then an unknown one."""
    real = st.fixed_dictionaries({}, optional={**required, **optional})
    junk = st.dictionaries(st.one_of(names, st.integers()), values, max_size=1)
    return st.one_of(real, real, real, st.tuples(real, junk).map(lambda pair: {**pair[0],
                                                                               **pair[1]}))


step_names = st.sampled_from(("api", "db", "cfg", "web", "x:y", "container:api", "", "{{ n }}"))
templates = st.sampled_from(("{{ x }}", "{{", "{{ x | default(1) }}", "{% if %}", "{{ ((((1 }}",
                             "{{ " + "(" * 300 + "1" + ")" * 300 + " }}", "echo hi",
                             "{{ undefined_var }}", "{{ inventory_hostname }}"))
strings = st.one_of(names, templates)
string_lists = maybe(st.lists(strings, max_size=3))

tasks = mapping({"name": maybe(step_names)}, {
    "command": maybe(st.one_of(strings, st.fixed_dictionaries({"cmd": strings}))),
    "shell": maybe(strings), "file": maybe(st.fixed_dictionaries({"path": strings})),
    "when": maybe(strings), "loop": maybe(st.lists(scalars, max_size=3)),
    "register": maybe(names), "notify": string_lists, "after": string_lists,
    "tags": string_lists, "retries": values, "delay": values, "run_once": values,
})
containers = mapping({"name": maybe(step_names), "image": maybe(strings)}, {
    "ports": string_lists, "env": maybe(st.dictionaries(names, scalars, max_size=2)),
    "depends_on": string_lists, "after": string_lists, "restart": maybe(names),
    "healthcheck": maybe(st.fixed_dictionaries({"cmd": strings}, optional={"retries": values,
                                                                          "interval": values})),
    "state": maybe(names), "pull": maybe(names), "command": maybe(strings),
})
services = mapping({"name": maybe(step_names), "container": maybe(step_names),
                    "port": maybe(st.integers(min_value=-1, max_value=70000))},
                   {"tags": string_lists, "drain": values, "meta": values})
host_patterns = st.one_of(names, st.lists(names, max_size=3),
                          st.lists(st.integers(), max_size=2), st.integers())
plays = mapping({"name": maybe(st.sampled_from(("one", "two", "a:b", ""))),
                 "hosts": host_patterns}, {
    "serial": maybe(st.one_of(st.integers(-1, 5), st.sampled_from(("30%", "0%", "101%", "²%",
                                                                   "{{ n }}", "x%")))),
    "vars": maybe(st.dictionaries(names, values, max_size=3)),
    "vars_files": maybe(st.lists(st.sampled_from(("vars.yml", "missing.yml", "../vars.yml",
                                                  "sub/../vars.yml", "--privileged")),
                                 max_size=2)),
    "tasks": maybe(st.lists(tasks, max_size=3)),
    "handlers": maybe(st.lists(tasks, max_size=2)),
    "containers": maybe(st.lists(containers, max_size=3)),
    "services": maybe(st.lists(services, max_size=2)),
    "after": maybe(st.lists(st.sampled_from(("one", "two", "three")), max_size=2)),
    "registry": values, "tags": string_lists, "become": values,
    "max_fail_percentage": values,
})
playbooks = st.one_of(st.lists(plays, min_size=1, max_size=3), values)

host_vars = st.one_of(st.none(), st.dictionaries(st.sampled_from((
    "address", "ansible_host", "port", "ansible_port", "user", "connection", "become",
    "ansible_become", "ssh_key", "ssh_gateway", "ansible_group_priority", "x")), values,
    max_size=3))
groups = st.recursive(
    mapping({}, {"hosts": maybe(st.dictionaries(names, host_vars, max_size=3)),
                 "vars": maybe(st.dictionaries(names, values, max_size=2))}),
    lambda children: mapping({}, {
        "hosts": maybe(st.dictionaries(names, host_vars, max_size=3)),
        "children": maybe(st.dictionaries(names, st.one_of(st.none(), children),
                                          max_size=2))}),
    max_leaves=4,
)
yaml_inventories = st.one_of(st.dictionaries(st.one_of(st.just("all"), names), st.one_of(
    st.none(), groups), min_size=1, max_size=3), values)

ini_lines = st.one_of(
    st.builds("[{}]".format, names), st.builds("[{}:vars]".format, names),
    st.builds("[{}:children]".format, names), st.builds("[{}:{}]".format, names, names),
    st.builds("{} {}={}".format, names, names, names),
    st.builds("{} ansible_port={}".format, names, st.integers()),
    st.sampled_from(("web1", "web[1:3]", "web1 a=\"b", "web1 a='b c'", "x=1", "x = [1, {",
                     "a=" + "[" * 300, "# comment", "; comment", "[all:vars]", "[web]",
                     "db[a:c] ansible_host=10.0.0.1", "web[1:99999999]", "web1:22 x=1",
                     "[web", "web1 =x", "web1 x", "ünïcode", "\x00", "[g:children]",
                     "missing", "web1 become=maybe", "web1 ansible_port=²")),
    names,
)
ini_inventories = st.lists(ini_lines, max_size=8).map("\n".join)


def dump(document: Any, style: str) -> str:
    if style == "json":
        text = json.dumps(document, default=str)
    else:
        text = yaml.safe_dump(document, allow_unicode=style == "unicode", sort_keys=False)
    return re.sub(r"RAWYAML(\d+)X", lambda match: RAW_YAML[int(match[1])], text)


def corrupt(text: str, cuts: Sequence[tuple[int, str]]) -> str:
    """The text with a few characters replaced: a plausible document, slightly broken."""
    for position, replacement in cuts:
        at = position % (len(text) + 1)
        text = text[:at] + replacement + text[at + 1:]
    return text


cuts = st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(
    (":", "-", " ", "\n", "[", "{", "}", "'", '"', "*", "&a", "*a", "!!", "\t", "#", "\x00",
     "? ", "<<: ", ""))), max_size=3)


@st.composite
def documents(draw: st.DrawFn, structured: st.SearchStrategy[Any]) -> str | bytes:
    """A file's contents: a dumped structure (maybe corrupted), raw text, or raw bytes."""
    kind = draw(st.sampled_from(("yaml", "yaml", "unicode", "json", "text", "bytes")))
    if kind == "text":
        return draw(st.text(max_size=200))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    text = dump(draw(structured), kind)
    return corrupt(text, draw(cuts)) if draw(st.booleans()) else text


# --- helpers ----------------------------------------------------------------------------

@contextlib.contextmanager
def folder() -> Iterator[Path]:
    # Hypothesis runs many examples per test call: a fresh folder each, not tmp_path
    with tempfile.TemporaryDirectory(prefix="play-fuzz-") as name:
        yield Path(name)


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    return path


def run_cli(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, err.getvalue()


def assert_cli_outcome(status: int, stderr: str, named: Sequence[str]) -> None:
    """Exit 0, or exit 4 with `error: <file>[:line]: ...` naming one of the user's inputs."""
    assert status in (EXIT_OK, EXIT_INVALID), (status, stderr)
    if status == EXIT_INVALID:
        # after the warnings of what was read leniently, as Ansible reads it
        error = "".join(line for line in stderr.splitlines(keepends=True)
                        if not line.startswith("warning: "))
        assert error.startswith("error: "), stderr
        assert any(error.startswith(f"error: {name}") for name in named), stderr
        assert "Traceback" not in stderr


FIXED_INVENTORY = """\
all:
  hosts:
    web1:
    web2:
  children:
    db:
      hosts:
        db1:
    "名前":
      hosts:
        "x:y":
"""


def fixed_inventory() -> Inventory:
    with folder() as where:
        return load_inventory([write(where / "inventory.yml", FIXED_INVENTORY)])


FUZZ_INVENTORY = fixed_inventory()


# --- the inventory loader ---------------------------------------------------------------

@fuzz(200)
@given(content=documents(yaml_inventories),
       file_name=st.sampled_from(("inventory.yml", "inventory", "hosts.json")))
def test_yaml_inventory_loads_or_raises_input_error(content: str | bytes, file_name: str) -> None:
    with folder() as where:
        try:
            inventory = load_inventory([write(where / file_name, content)])
        except InputError:
            return
        select_hosts("all", inventory)


@fuzz(200)
@given(content=st.one_of(ini_inventories, st.text(max_size=200), st.binary(max_size=200)),
       file_name=st.sampled_from(("inventory.ini", "hosts", "inventory.cfg.ini")))
def test_ini_inventory_loads_or_raises_input_error(content: str | bytes, file_name: str) -> None:
    with folder() as where:
        try:
            inventory = load_inventory([write(where / file_name, content)])
        except InputError:
            return
        select_hosts("all", inventory)


@fuzz(60)
@given(inventory=documents(yaml_inventories), group_vars=documents(values),
       host_vars=documents(values))
def test_inventory_folder_with_vars_dirs_loads_or_raises_input_error(
        inventory: str | bytes, group_vars: str | bytes, host_vars: str | bytes) -> None:
    with folder() as where:
        write(where / "inventory.yml", inventory)
        (where / "group_vars").mkdir()
        (where / "host_vars").mkdir()
        write(where / "group_vars" / "all.yml", group_vars)
        for host in ("web1", "db1"):
            write(where / "host_vars" / f"{host}.yml", host_vars)
        with contextlib.suppress(InputError):
            load_inventory([where])


# --- the playbook loader ----------------------------------------------------------------

@fuzz(200)
@given(content=documents(playbooks), vars_file=documents(values))
def test_playbook_loads_or_raises_input_error(content: str | bytes,
                                              vars_file: str | bytes) -> None:
    with folder() as where:
        write(where / "vars.yml", vars_file)
        with contextlib.suppress(InputError):
            load_playbook(write(where / "playbook.yml", content))


# --- host patterns ----------------------------------------------------------------------

pattern_terms = st.one_of(names, st.sampled_from(("web*", "w?b1", "[wd]*", "~^web", "~(",
                                                  "~[", "db", "名前", "x:y", "*")))
patterns = st.one_of(
    st.lists(st.tuples(st.sampled_from(("", "&", "!", " ")), pattern_terms), max_size=4).map(
        lambda terms: ":".join(op + term for op, term in terms)),
    st.lists(pattern_terms, max_size=3).map(",".join),
    st.text(alphabet=st.sampled_from(list("ab1*?[]!&~:,^$(). \\")), max_size=20),
    st.text(max_size=30),
)


@fuzz(300)
@given(pattern=patterns)
def test_host_pattern_selects_or_raises_input_error(pattern: str) -> None:
    inventory = FUZZ_INVENTORY
    try:
        parse_pattern(pattern)
        selected = select_hosts(pattern, inventory)
    except InputError:
        return
    assert set(selected) <= set(inventory.hosts)


# --- extra vars -------------------------------------------------------------------------

extra_options = st.one_of(
    st.builds("{}={}".format, names, names),
    st.sampled_from(("=", "a=", "=b", "a==b", "a=b=c", "a b=c", "'", "@", "{", "{]", "{1: 2}",
                     'a="x', "1a=b", " =x", "a=1 b=2", 'motd="hello world"', "a='b c' d=e",
                     "{a: [[[[", '{"a": 1}', "[1, 2]", "-", "--privileged", "@/nonexistent",
                     "@" + "../" * 20 + "nonexistent", "{a: " * 200 + "}" * 200)),
    st.text(max_size=30),
)


@fuzz(200)
@given(options=st.lists(st.one_of(extra_options, st.just("@FILE")), max_size=3),
       vars_file=documents(values))
def test_extra_vars_parse_or_raise_input_error(options: list[str],
                                               vars_file: str | bytes) -> None:
    with folder() as where:
        file = write(where / "extra.yml", vars_file)
        resolved = [f"@{file}" if option == "@FILE" else option for option in options]
        with contextlib.suppress(InputError):
            parse_extra_vars(resolved)


# --- the whole command line -------------------------------------------------------------

@fuzz(150)
@given(playbook=documents(playbooks), inventory=st.one_of(documents(yaml_inventories),
                                                          ini_inventories),
       inventory_name=st.sampled_from(("inventory.yml", "inventory.ini", "hosts")),
       extra=st.lists(extra_options, max_size=2),
       output_format=st.sampled_from(("text", "dot", "json")))
def test_graph_command_exits_0_or_4_with_a_located_message(
        playbook: str | bytes, inventory: str | bytes, inventory_name: str, extra: list[str],
        output_format: str) -> None:
    with folder() as where:
        write(where / "vars.yml", "x: 1\n")
        playbook_path = write(where / "playbook.yml", playbook)
        inventory_path = write(where / inventory_name, inventory)
        argv = ["graph", str(playbook_path), "-i", str(inventory_path),
                "--format", output_format]
        # `--extra-vars=VALUE`, so that a value like `--privileged` stays a value
        argv += [f"--extra-vars={option}" for option in extra]
        status, stderr = run_cli(argv)
        assert_cli_outcome(status, stderr, (str(where.resolve()), str(where), "-e"))


PLAUSIBLE_PLAYBOOK = """\
- name: one
  hosts: all
  vars: {x: 1}
  tasks:
    - name: cfg
      command: "echo {{ x }}"
  containers:
    - name: api
      image: "busybox:{{ x }}"
"""


@fuzz(100)
@given(inventory=st.one_of(documents(yaml_inventories), ini_inventories),
       inventory_name=st.sampled_from(("inventory.yml", "inventory.ini", "hosts")),
       shown=st.sampled_from((["--list"], ["--graph"], ["--host", "web1"])))
def test_inventory_command_exits_0_or_4_with_a_located_message(
        inventory: str | bytes, inventory_name: str, shown: list[str]) -> None:
    with folder() as where:
        inventory_path = write(where / inventory_name, inventory)
        status, stderr = run_cli(["inventory", "-i", str(inventory_path), *shown])
        # --host NAME for a host that is not there names no file: it is an option mistake
        assert_cli_outcome(status, stderr, (str(where), "no host named 'web1'"))
        status, stderr = run_cli(["graph", str(write(where / "playbook.yml",
                                                     PLAUSIBLE_PLAYBOOK)),
                                  "-i", str(inventory_path)])
        assert_cli_outcome(status, stderr, (str(where),))


# --- what the fuzzers found, pinned -----------------------------------------------------

PLAY = ("- name: one\n  hosts: {hosts}\n  serial: {serial}\n"
        "  tasks:\n    - name: t\n      command: echo\n")
HOSTS = "[web]\nweb1\n"


@pytest.mark.parametrize(("playbook", "inventory", "extra", "message"), [
    (PLAY.format(hosts="all", serial="'{{ n }}'"), HOSTS, [], "serial '{{ n }}' cannot be "
     "rendered: 'n' is undefined; serial is decided before the run, from play vars, "
     "vars_files and -e only (not host vars)"),
    (PLAY.format(hosts="all", serial="'{{ n }}'"), HOSTS, ["n=two"], "'serial' must be a "
     "number of hosts"),
    (PLAY.format(hosts="all", serial="'²%'"), HOSTS, [], "'serial' must be"),
    (PLAY.format(hosts="all", serial=1), "[web]\nweb[1:99999999]\n", [], "more than 100,000"),
    (PLAY.format(hosts="all", serial=1), "[web]\nw[a:Z][a:Z][a:Z][a:Z]\n", [],
     "more than 100,000"),
    (PLAY.format(hosts="all", serial=1), "[web]\nweb[1:²]\n", [], "must be numbers"),
    (PLAY.format(hosts="all", serial=1), "[web]\nweb1 ansible_port=²\n", [], "not a TCP port"),
    (PLAY.format(hosts="all", serial=1), "[web]\nweb1:" + "9" * 5000 + "\n", [],
     "not a TCP port"),
    (PLAY.format(hosts="all", serial=1), '{"all": {"hosts": {"w\\u0000": null}}}', [],
     "control character"),
    (PLAY.format(hosts="'~" + "(" * 5000 + ")" * 5000 + "'", serial=1), HOSTS, [],
     "invalid regex"),
    (PLAY.format(hosts="all", serial=1), HOSTS, ["@"], "needs a file name"),
])
def test_inputs_found_by_fuzzing_exit_4_with_a_message(
        playbook: str, inventory: str, extra: list[str], message: str) -> None:
    with folder() as where:
        argv = ["graph", str(write(where / "playbook.yml", playbook)),
                "-i", str(write(where / "inventory", inventory)),
                *(f"--extra-vars={option}" for option in extra)]
        status, stderr = run_cli(argv)
        assert_cli_outcome(status, stderr, (str(where), "-e"))
        assert status == EXIT_INVALID and message in stderr, stderr


def test_a_group_name_too_long_for_a_file_name_has_no_group_vars() -> None:
    with folder() as where:
        (where / "group_vars").mkdir()
        write(where / "inventory.yml", f"{'g' * 300}:\n  hosts:\n    web1:\n")
        status, stderr = run_cli(["inventory", "-i", str(where), "--graph"])
        assert (status, stderr) == (EXIT_OK, "")


def test_a_regex_pattern_prints_no_python_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert select_hosts("~[[z]", FUZZ_INVENTORY) == ()
