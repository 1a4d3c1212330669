"""Pre-flight (issue 20): every mistake that can be seen before the run is exit 4 at its
line, before anything runs, `play graph` included."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.checks import check_variables
from engine.errors import InputError
from engine.inventory import load_inventory
from engine.plan import plan_run
from engine.playbook import load_playbook

ROOT = Path(__file__).parent.parent.parent
HOSTS = ROOT / "tests" / "data" / "playbooks" / "hosts.yml"
TASKS = "- name: p\n  hosts: web\n  vars: {x: 5, a: '{{ a }}', b: '{{ c }}', c: '{{ b }}'}\n" \
        "  tasks:\n"


def _check(tmp_path: Path, playbook_text: str, extra: dict[str, object] | None = None) -> None:
    path = tmp_path / "play.yml"
    path.write_text(playbook_text)
    inventory = load_inventory([HOSTS])
    check_variables(plan_run(load_playbook(path), inventory), inventory, extra or {})


def _refused(tmp_path: Path, playbook_text: str) -> str:
    with pytest.raises(InputError) as caught:
        _check(tmp_path, playbook_text)
    return str(caught.value)


def play(*arguments: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "engine", *arguments], capture_output=True,
                          text=True, cwd=cwd, env=environment, timeout=60, check=False)


# 1. file() in a template


@pytest.mark.parametrize(("path", "expected"), [
    ("/missing-file-of-play", "No such file"), ("/etc", "Is a directory"),
    ("binary.dat", "not UTF-8 text")])
def test_file_lookup_that_cannot_be_read_is_exit_4_at_the_line(
        tmp_path: Path, path: str, expected: str) -> None:
    (tmp_path / "binary.dat").write_bytes(b"\x00\xff\xfe")
    playbook = tmp_path / "site.yml"
    playbook.write_text(f"{TASKS}    - name: a\n      command: \"echo {{{{ file('{path}') }}}}\"\n")
    result = play("graph", str(playbook), "-i", str(HOSTS))
    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stderr
    assert f"{playbook}:5:" in result.stderr and expected in result.stderr


def test_file_lookup_reads_a_relative_path_beside_the_playbook(tmp_path: Path) -> None:
    from engine.templating import render_text

    (tmp_path / "files").mkdir()
    (tmp_path / "beside.txt").write_text("beside\n")
    (tmp_path / "files" / "in-files.txt").write_text("in files\n")
    playbook = tmp_path / "site.yml"
    playbook.write_text(f"{TASKS}    - name: a\n"
                        "      command: \"echo {{ file('beside.txt') }}\"\n")
    # from another working directory: it does not matter
    result = play("graph", str(playbook), "-i", str(HOSTS), cwd=ROOT / "engine")
    assert result.returncode == 0, result.stderr
    scope = {"playbook_dir": str(tmp_path)}
    assert render_text("{{ file('beside.txt') }}", scope) == "beside"
    assert render_text("{{ file('in-files.txt') }}", scope) == "in files"


# 7. templates that cannot render although every variable is known


@pytest.mark.parametrize(("task", "expected"), [
    ("{name: t, command: 'echo {{ a }}'}", "refers to itself"),
    ("{name: t, command: 'echo {{ b }}'}", "refers to itself"),
    ("{name: t, command: \"echo {{ env('PLAY_TEST_SURELY_UNSET') }}\"}",
     "environment variable 'PLAY_TEST_SURELY_UNSET' is not set"),
    ("{name: 't {{ nowhere }}', command: echo}", "undefined variable 'nowhere'"),
    ("{name: t, command: 'echo {{ item }}', loop: '{{ x }}'}", "'loop' must render to a list"),
])
def test_template_known_to_fail_is_refused_before_the_run(
        tmp_path: Path, task: str, expected: str) -> None:
    message = _refused(tmp_path, f"{TASKS}    - {task}\n")
    assert message.startswith(f"{tmp_path / 'play.yml'}:5: ")
    assert expected in message


def test_var_reading_a_registered_result_is_left_to_the_run(tmp_path: Path) -> None:
    _check(tmp_path, "- name: p\n  hosts: web\n  vars: {rc: '{{ out.rc }}'}\n  tasks:\n"
           "    - {name: a, command: echo, register: out}\n"
           "    - {name: b, command: 'echo {{ rc }}'}\n")
