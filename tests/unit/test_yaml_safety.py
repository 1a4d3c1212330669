"""Hostile YAML: every file play reads (playbook, YAML and INI inventories, host_vars and
group_vars, vars_files, `-e @file`) is parsed safely and within bounds. Python tags
execute nothing, alias bombs and deep nesting are refused quickly with exit 4 and a
`file:line:` message, never a traceback or a crash of the interpreter.
"""

from __future__ import annotations

import contextlib
import io
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cli import main
from engine.errors import EXIT_INVALID, EXIT_OK

PLAYBOOK = """\
- name: deploy
  hosts: all
  tasks:
    - name: hello
      command: echo hi
"""
INVENTORY = """\
all:
  hosts:
    web1:
"""

# Bounds measured on a 2-core runner: refusing each bomb below takes well under 0.1 s
# and a few MB; the limits leave room for a slow, busy CI machine.
SECONDS = 5.0
MEGABYTES = 200


def run(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, err.getvalue()


@contextlib.contextmanager
def bounded() -> Iterator[None]:
    """Fail when the block takes longer than SECONDS or allocates more than MEGABYTES."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < SECONDS, f"took {elapsed:.1f} s"
    assert peak < MEGABYTES * 2**20, f"peaked at {peak / 2**20:.0f} MB"


def billion_laughs() -> str:
    """Nine levels of nine aliases: 9**9 (387 million) strings once expanded."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]"
              for level in range(1, 10)]
    return "\n".join(lines) + "\n"


def deep_lists(depth: int) -> str:
    return "[" * depth + "]" * depth


def deep_mappings(depth: int) -> str:
    return "{a: " * depth + "1" + "}" * depth


def python_tags(canary: Path) -> dict[str, str]:
    """YAML that an unsafe loader would turn into code execution creating `canary`."""
    command = f"touch {canary}"
    return {
        "apply": f"!!python/object/apply:os.system [{command!r}]",
        "object": f"!!python/object/new:subprocess.Popen [[sh, -c, {command!r}]]",
        "name": "!!python/name:os.system",
        "module": "!!python/module:os",
        "object-state": "!!python/object:argparse.Namespace {a: 1}",
    }


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A valid playbook and inventory, and a plain file in every other place play reads
    YAML from: group_vars/, host_vars/, the play's vars_files, `-e @extra.yml`."""
    (tmp_path / "playbook.yml").write_text(PLAYBOOK)
    (tmp_path / "inventory.yml").write_text(INVENTORY)
    (tmp_path / "with_vars.yml").write_text(PLAYBOOK.replace(
        "  tasks:", "  vars_files: [vars.yml]\n  tasks:"))
    for name in ("group_vars/all.yml", "host_vars/web1.yml", "vars.yml", "extra.yml"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x: 1\n")
    return tmp_path


def read_everything(files: Path, target: str) -> tuple[int, str]:
    """`play graph` reading every file of `files`, with `target` as the playbook or the
    inventory when it is one."""
    playbook = target if target.startswith("playbook") else "with_vars.yml"
    inventory = target if target.startswith("inventory") else "inventory.yml"
    return graph(files, playbook, inventory, f"-e@{files / 'extra.yml'}")


def graph(files: Path, playbook: str = "playbook.yml", inventory: str = "inventory.yml",
          *extra: str) -> tuple[int, str]:
    return run(["graph", str(files / playbook), "-i", str(files / inventory), *extra])


def assert_refused(status: int, stderr: str, file: Path, *words: str) -> None:
    assert status == EXIT_INVALID, stderr
    assert stderr.startswith(f"error: {file}:"), stderr
    assert "Traceback" not in stderr
    for word in words:
        assert word in stderr, stderr


def test_plain_files_are_accepted(files: Path) -> None:
    assert graph(files) == (EXIT_OK, "")


# --- Python tags ------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["apply", "object", "name", "module", "object-state"])
def test_python_tag_in_a_playbook_is_refused_and_runs_nothing(files: Path, kind: str) -> None:
    canary = files / "canary"
    tag = python_tags(canary)[kind]
    playbook = files / "tagged.yml"
    playbook.write_text(PLAYBOOK.replace("command: echo hi", f"command: {tag}"))
    status, stderr = graph(files, "tagged.yml")
    assert_refused(status, stderr, playbook, "unsupported YAML tag")
    assert not canary.exists()


@pytest.mark.parametrize("kind", ["apply", "object", "name"])
def test_python_tag_in_a_yaml_inventory_is_refused_and_runs_nothing(files: Path,
                                                                     kind: str) -> None:
    canary = files / "canary"
    inventory = files / "tagged.yml"
    inventory.write_text(INVENTORY + f"      ansible_host: {python_tags(canary)[kind]}\n")
    status, stderr = graph(files, inventory="tagged.yml")
    assert_refused(status, stderr, inventory, "unsupported YAML tag")
    assert not canary.exists()


@pytest.mark.parametrize("name", ["group_vars/all.yml", "host_vars/web1.yml", "vars.yml",
                                  "extra.yml"])
def test_python_tag_in_a_vars_file_is_refused_and_runs_nothing(files: Path, name: str) -> None:
    canary = files / "canary"
    (files / name).write_text(f"x: {python_tags(canary)['apply']}\n")
    status, stderr = read_everything(files, name)
    assert_refused(status, stderr, files / name, "unsupported YAML tag")
    assert not canary.exists()


def test_python_tag_in_an_extra_vars_mapping_is_refused(files: Path) -> None:
    canary = files / "canary"
    status, stderr = graph(files, "playbook.yml", "inventory.yml",
                           f"--extra-vars={{x: {python_tags(canary)['apply']}}}")
    assert status == EXIT_INVALID
    assert stderr.startswith("error: -e:1: ") and "unsupported YAML tag" in stderr
    assert not canary.exists()


def test_an_ini_inventory_value_is_never_evaluated_as_code(files: Path) -> None:
    canary = files / "canary"
    (files / "inventory.ini").write_text(
        f"[web]\nweb1 x=\"__import__('os').system('touch {canary}')\" y=\"[1, 2]\"\n")
    status, stderr = run(["inventory", "-i", str(files / "inventory.ini"), "--host", "web1"])
    assert (status, stderr) == (EXIT_OK, "")
    assert not canary.exists()


# --- alias bombs ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["playbook.yml", "inventory.yml", "group_vars/all.yml",
                                  "host_vars/web1.yml", "vars.yml", "extra.yml"])
def test_billion_laughs_is_refused_in_bounded_time_and_memory(files: Path, name: str) -> None:
    (files / name).write_text(billion_laughs())
    with bounded():
        status, stderr = read_everything(files, name)
    assert_refused(status, stderr, files / name, "alias")


def test_billion_laughs_in_an_inventory_without_extension_is_not_expanded(files: Path) -> None:
    # sniffed: it is no YAML inventory (so it is read as INI, and refused as such)
    (files / "inventory").write_text(billion_laughs())
    with bounded():
        status, stderr = read_everything(files, "inventory")
    assert_refused(status, stderr, files / "inventory")


def test_aliases_that_expand_modestly_are_accepted(files: Path) -> None:
    (files / "inventory.yml").write_text(
        "all:\n  vars:\n    base: &base {user: deploy, port: 22}\n"
        "  hosts:\n" + "".join(f"    web{n}: *base\n" for n in range(50)))
    assert graph(files) == (EXIT_OK, "")


def test_a_recursive_alias_is_refused_or_accepted_without_hanging(files: Path) -> None:
    (files / "playbook.yml").write_text(PLAYBOOK.replace("  tasks:", "  vars: &v {me: *v}\n"
                                                        "  tasks:"))
    with bounded():
        status, stderr = graph(files)
    assert_refused(status, stderr, files / "playbook.yml")


# --- nesting and size -------------------------------------------------------------------

@pytest.mark.parametrize("document", [deep_lists(10_000), deep_mappings(10_000),
                                      deep_lists(1_000_000)],
                         ids=["lists-10k", "mappings-10k", "lists-1M"])
def test_deep_nesting_is_refused_without_recursion_error(files: Path, document: str) -> None:
    # a million levels crashed the interpreter (libyaml's composer recursing in C)
    (files / "playbook.yml").write_text(document)
    with bounded():
        status, stderr = graph(files)
    assert_refused(status, stderr, files / "playbook.yml", "nests more than")


@pytest.mark.parametrize("name", ["inventory.yml", "group_vars/all.yml", "host_vars/web1.yml",
                                  "vars.yml", "extra.yml"])
def test_deep_nesting_in_inventory_and_vars_is_refused(files: Path, name: str) -> None:
    text = "x: " + deep_lists(5_000) + "\n"
    (files / name).write_text("all:\n  vars:\n    " + text if name == "inventory.yml" else text)
    with bounded():
        status, stderr = read_everything(files, name)
    assert_refused(status, stderr, files / name, "nests more than")


def test_deep_nesting_in_an_ini_value_stays_text(files: Path) -> None:
    (files / "inventory.ini").write_text("[web]\nweb1 x=" + deep_lists(5_000) + "\n")
    status, stderr = run(["inventory", "-i", str(files / "inventory.ini"), "--host", "web1"])
    assert (status, stderr) == (EXIT_OK, "")


def test_deeply_nested_template_is_refused_with_its_line(files: Path) -> None:
    expression = "(" * 3_000 + "1" + ")" * 3_000
    template = "'echo {{ " + expression + " }}'"
    (files / "playbook.yml").write_text(PLAYBOOK.replace("echo hi", template))
    status, stderr = graph(files)
    assert_refused(status, stderr, files / "playbook.yml", "nest too deeply")
    assert stderr.startswith(f"error: {files / 'playbook.yml'}:4: ")  # the task


def test_reasonable_nesting_is_accepted(files: Path) -> None:
    (files / "playbook.yml").write_text(PLAYBOOK.replace(
        "  tasks:", "  vars:\n    x: " + deep_lists(50) + "\n  tasks:"))
    assert graph(files) == (EXIT_OK, "")


def test_a_large_flat_inventory_is_accepted(files: Path) -> None:
    (files / "inventory.yml").write_text(
        "all:\n  hosts:\n" + "".join(f"    web{n}: {{port: {n % 60000 + 1}}}\n"
                                     for n in range(2_000)))
    status, stderr = graph(files)
    assert (status, stderr) == (EXIT_OK, "")


def test_a_huge_flat_document_is_refused_with_a_message(files: Path) -> None:
    (files / "vars.yml").write_text("[" + ",".join(["1"] * 1_000_001) + "]")
    started = time.perf_counter()
    status, stderr = read_everything(files, "vars.yml")
    assert_refused(status, stderr, files / "vars.yml", "more than 1,000,000 values")
    assert time.perf_counter() - started < 30  # measured: ~2 s


# --- duplicate keys and other YAML mistakes ---------------------------------------------

@pytest.mark.parametrize(("name", "text", "line"), [
    ("playbook.yml", PLAYBOOK + "  hosts: web1\n", 6),
    ("playbook.yml", "- name: a\n  hosts: all\n  vars: {x: 1, x: 2}\n", 3),
    ("inventory.yml", INVENTORY + "    web1:\n", 4),
    ("inventory.yml", "all:\n  hosts: {}\nall:\n  hosts: {}\n", 3),
    ("group_vars/all.yml", "x: 1\nx: 2\n", 2),
])
def test_duplicate_keys_are_refused_with_their_line(files: Path, name: str, text: str,
                                                    line: int) -> None:
    path = files / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    status, stderr = graph(files)
    assert_refused(status, stderr, path, "duplicate key")
    assert stderr.startswith(f"error: {path}:{line}: "), stderr


def test_duplicate_keys_in_an_extra_vars_file_are_refused(files: Path) -> None:
    extra = files / "extra.yml"
    extra.write_text("x: 1\ny: 2\nx: 3\n")
    status, stderr = read_everything(files, "extra.yml")
    assert_refused(status, stderr, extra, "duplicate key")
    assert stderr.startswith(f"error: {extra}:3: ")


@pytest.mark.parametrize("value", ["!!binary aGVsbG8=", "!!set {a: null}", "!!omap [{a: 1}]",
                                   "!!int nope", "!!bool maybe", "!!float x",
                                   "1" + "0" * 5_000])
def test_odd_yaml_values_are_refused_with_their_line(files: Path, value: str) -> None:
    inventory = files / "inventory.yml"
    inventory.write_text(INVENTORY + f"      x: {value}\n")
    status, stderr = graph(files)
    assert_refused(status, stderr, inventory)
    assert stderr.startswith(f"error: {inventory}:4: "), stderr


def test_dates_stay_text_as_written(files: Path) -> None:
    (files / "inventory.yml").write_text(INVENTORY + "      built: 2024-02-30\n")
    status, _ = run(["inventory", "-i", str(files / "inventory.yml"), "--host", "web1"])
    assert status == EXIT_OK


@pytest.mark.parametrize("key", ["null", "[a, b]", "{a: 1}"])
def test_non_scalar_keys_are_refused(files: Path, key: str) -> None:
    (files / "playbook.yml").write_text(PLAYBOOK + f"  ? {key}\n  : x\n")
    status, stderr = graph(files)
    assert_refused(status, stderr, files / "playbook.yml", "mapping key")


@pytest.mark.parametrize("content", [b"- name: \x00\n", b"- name: \xff\xfe\n", b"\x1b[2J",
                                     "- name: \u202e\n".encode()])
def test_control_characters_and_bad_encodings_are_refused_or_accepted(
        files: Path, content: bytes) -> None:
    (files / "playbook.yml").write_bytes(content)
    status, stderr = graph(files)
    assert status in (EXIT_OK, EXIT_INVALID)
    if status == EXIT_INVALID:
        assert stderr.startswith(f"error: {files / 'playbook.yml'}"), stderr
