"""Pre-flight (issue 20): every mistake that can be seen before the run is exit 4 at its
line, before anything runs, `play graph` included."""

from __future__ import annotations

import json
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
TASKS = "- name: p\n  hosts: web\n  vars: {x: 5, a: '{{ a }}', b: '{{ c }}', c: '{{ b }}', " \
        "conf: {}}\n  tasks:\n"


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
    ("{name: t, command: 'echo {{ a }}'}", "variable 'a' refers to itself in its own value"),
    ("{name: t, command: 'echo {{ b }}'}", "variable 'b' refers to itself through 'c'"),
    ("{name: t, command: \"echo {{ env('PLAY_TEST_SURELY_UNSET') }}\"}",
     "environment variable 'PLAY_TEST_SURELY_UNSET' is not set"),
    ("{name: 't {{ nowhere }}', command: echo}", "undefined variable 'nowhere'"),
    ("{name: t, command: 'echo {{ item }}', loop: '{{ x }}'}", "'loop' must render to a list"),
    ("{name: t, copy: {content: '{{ conf.port }}', dest: /x}}",
     "the mapping has no attribute 'port'"),
])
def test_template_known_to_fail_is_refused_before_the_run(
        tmp_path: Path, task: str, expected: str) -> None:
    message = _refused(tmp_path, f"{TASKS}    - {task}\n")
    assert message.startswith(f"{tmp_path / 'play.yml'}:5: ")
    assert expected in message


def test_step_that_when_may_skip_is_left_to_the_run(tmp_path: Path) -> None:
    _check(tmp_path, "- name: p\n  hosts: web\n  vars: {conf: {}}\n  tasks:\n"
           "    - {name: a, command: 'echo {{ conf.port }}', when: conf.port is defined}\n")


def test_var_reading_a_registered_result_is_left_to_the_run(tmp_path: Path) -> None:
    _check(tmp_path, "- name: p\n  hosts: web\n  vars: {rc: '{{ out.rc }}'}\n  tasks:\n"
           "    - {name: a, command: echo, register: out}\n"
           "    - {name: b, command: 'echo {{ rc }}'}\n")


def _site(tmp_path: Path, text: str = "") -> str:
    playbook = tmp_path / "site.yml"
    playbook.write_text(text or "- name: web\n  hosts: web\n  tasks:\n"
                        "    - {name: hello, command: echo hello, tags: [deploy]}\n")
    return str(playbook)


# 2. an empty --limit


@pytest.mark.parametrize("limit", [["-l", ""], ["--limit="], ["-l", "  "]])
def test_empty_limit_is_exit_4_not_every_host(tmp_path: Path, limit: list[str]) -> None:
    result = play("graph", _site(tmp_path), "-i", str(HOSTS), *limit)
    assert result.returncode == 4, result.stdout + result.stderr
    assert "--limit" in result.stderr or "pattern" in result.stderr
    assert not result.stdout


def test_empty_limit_says_it_matches_no_host(tmp_path: Path) -> None:
    result = play("graph", _site(tmp_path), "-i", str(HOSTS), "-l", "")
    assert "an empty --limit matches no host" in result.stderr


# 3. --explain keeps each format valid


def test_graph_explain_json_is_one_json_document(tmp_path: Path) -> None:
    result = play("graph", _site(tmp_path), "-i", str(HOSTS), "--explain", "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["placement"] == [] and document["nodes"]


def test_graph_explain_dot_is_rendered_by_graphviz(tmp_path: Path) -> None:
    result = play("graph", _site(tmp_path), "-i", str(HOSTS), "--explain", "--format", "dot")
    assert result.returncode == 0, result.stderr
    assert "// placement: no container asks for replicas" in result.stdout
    rendered = subprocess.run(["dot", "-Tsvg"], input=result.stdout, capture_output=True,
                              text=True, timeout=60, check=False)
    assert rendered.returncode == 0, rendered.stderr
    assert rendered.stdout.lstrip().startswith("<?xml") and "web1" in rendered.stdout


def test_render_graph_puts_the_explanation_in_each_format(tmp_path: Path) -> None:
    from engine.output.graph import render_graph

    inventory = load_inventory([HOSTS])
    plan = plan_run(load_playbook(_site(tmp_path)), inventory)
    lines = ["container api [p]: 2 replicas over web1, web2", "  web1: 0 - first"]
    assert json.loads(render_graph(plan, "json", lines))["placement"] == lines
    dot = render_graph(plan, "dot", lines)
    assert dot.rstrip().endswith("}") and "  //     web1: 0 - first" in dot
    assert render_graph(plan, "text", lines).endswith("placement:\n  " + lines[0] + "\n  "
                                                      + lines[1] + "\n")


# 5. selections that match nothing


@pytest.mark.parametrize(("options", "expected"), [
    (["-t", "nosuchtag"], "--tags 'nosuchtag': no step of the playbook has that tag"),
    (["-t", "deplyo"], "did you mean 'deploy'?"),
    (["-l", "db*"], "--limit 'db*' leaves no host to run on"),
    (["-l", "all:!web"], "--limit 'all:!web' leaves no host to run on"),
    (["--skip-tags", "deploy"], "--skip-tags deploy leaves no step to run"),
])
def test_selection_that_matches_nothing_is_exit_4(
        tmp_path: Path, options: list[str], expected: str) -> None:
    for command in (["graph"], []):
        result = play(*command, _site(tmp_path), "-i", str(HOSTS), *options)
        assert result.returncode == 4, result.stdout + result.stderr
        assert expected in result.stderr, result.stderr


def test_play_pattern_that_leaves_no_host_in_the_whole_run_is_exit_4(tmp_path: Path) -> None:
    site = _site(tmp_path, "- name: not web\n  hosts: 'web:!web'\n  tasks:\n"
                 "    - {name: hello, command: echo hello}\n")
    result = play("graph", site, "-i", str(HOSTS))
    assert result.returncode == 4
    assert f"{site}:1:" in result.stderr and "no play's hosts pattern matches" in result.stderr


def test_play_matching_nothing_beside_one_that_matches_is_skipped(tmp_path: Path) -> None:
    site = _site(tmp_path, "- name: none\n  hosts: 'web:!web'\n  tasks:\n"
                 "    - {name: a, command: echo}\n"
                 "- name: db\n  hosts: db\n  tasks:\n    - {name: b, command: echo}\n")
    result = play("graph", site, "-i", str(HOSTS))
    assert result.returncode == 0, result.stderr
    assert "play 'none': no hosts match" in result.stdout and "on db1" in result.stdout


def test_templated_hosts_pattern_renders_from_extra_and_play_vars(tmp_path: Path) -> None:
    site = _site(tmp_path, "- name: p\n  hosts: '{{ target }}'\n  vars: {target: db}\n"
                 "  tasks:\n    - {name: a, command: echo}\n")
    inventory = load_inventory([HOSTS])
    from engine.batches import place_plays, render_patterns

    def hosts(extra: dict[str, object]) -> tuple[str, ...]:
        playbook = render_patterns(load_playbook(site), extra)
        return place_plays(playbook, inventory)[0].hosts

    assert hosts({}) == ("db1",)
    assert hosts({"target": "web:!web2"}) == ("web1", "web3", "web4")
    result = play("graph", site, "-i", str(HOSTS), "-e", "target=web1")
    assert result.returncode == 0 and "on web1" in result.stdout


def test_templated_hosts_pattern_without_its_variable_is_exit_4(tmp_path: Path) -> None:
    site = _site(tmp_path, "- name: p\n  hosts: '{{ target }}'\n  tasks:\n"
                 "    - {name: a, command: echo}\n")
    result = play("graph", site, "-i", str(HOSTS))
    assert result.returncode == 4
    assert f"{site}:1:" in result.stderr and "'target' is undefined" in result.stderr
    assert "-e target=" in result.stderr


# 4. literal action arguments and container values, before the run


def _loaded(tmp_path: Path, text: str) -> str:
    path = tmp_path / "play.yml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_playbook(path)
    return str(caught.value)


@pytest.mark.parametrize(("task", "expected"), [
    ("file: {path: /srv/x, state: dir}",
     "state of the 'file' action must be one of file, directory, absent, touch, link, not 'dir'"),
    ("package: {name: curl, state: installed}", "must be one of present, absent, latest"),
    ("user: {name: app, state: gone}", "must be one of present, absent, not 'gone'"),
    ("docker_image: {name: app, source: pul}", "did you mean 'pull'?"),
    ("wait_for: {port: -1}", "port of the 'wait_for' action must be a port number from 1 to "
                            "65535, not '-1'"),
    ("wait_for: {port: 70000}", "from 1 to 65535"),
    ("file: {path: '', state: directory}", "path of the 'file' action must not be empty"),
    ("file: {path: /srv/x, mode: 'u=rwz'}", "symbolic such as 'u=rwx,go=rx'"),
    ("copy: {content: x, dest: /srv/x, mode: '0999'}", "mode must be octal"),
])
def test_literal_action_argument_is_refused_at_its_line(
        tmp_path: Path, task: str, expected: str) -> None:
    message = _loaded(tmp_path, f"- name: p\n  hosts: web\n  tasks:\n    - name: t\n"
                                f"      {task}\n")
    assert message.startswith(f"{tmp_path / 'play.yml'}:5: task 't': "), message
    assert expected in message


@pytest.mark.parametrize(("value", "expected"), [
    ("ports: ['99999:80']", "port '99999:80' is not one Docker reads"),
    ("ports: ['eighty:80']", "port 'eighty:80' is not one Docker reads"),
    ("ports: ['80/icmp']", "tcp, udp or sctp"),
    ("memory: 1x", "memory '1x' is not a size Docker reads"),
    ("cpus: .nan", "cpus must be a number of CPUs above 0"),
    ("cpus: .inf", "not inf"),
    ("cpus: 0", "not 0"),
])
def test_container_value_docker_refuses_is_exit_4_at_its_line(
        tmp_path: Path, value: str, expected: str) -> None:
    message = _loaded(tmp_path, "- name: p\n  hosts: web\n  containers:\n    - name: app\n"
                                f"      image: busybox\n      {value}\n")
    assert message.startswith(f"{tmp_path / 'play.yml'}:6: container 'app': "), message
    assert expected in message


def test_empty_image_is_refused(tmp_path: Path) -> None:
    message = _loaded(tmp_path, "- name: p\n  hosts: web\n  containers:\n    - name: app\n"
                                "      image: ''\n")
    assert ":5: container 'app': image must name an image" in message


def test_container_values_docker_accepts_pass(tmp_path: Path) -> None:
    (tmp_path / "play.yml").write_text(
        "- name: p\n  hosts: web\n  containers:\n    - name: app\n      image: busybox\n"
        "      cpus: 1.5\n      memory: 512m\n      ports: ['127.0.0.1:8080:80', '80', "
        "'8000-8010:8000-8010/udp', '127.0.0.1::80', '[::1]:8081:80']\n"
        "  tasks:\n    - {name: a, file: {path: /srv/x, state: directory, mode: 'u=rwx,go=rx'}}\n"
        "    - {name: b, wait_for: {port: '8080'}}\n")
    load_playbook(tmp_path / "play.yml")


def test_rendered_action_argument_gets_the_same_rules(tmp_path: Path) -> None:
    message = _refused(tmp_path, "- name: p\n  hosts: web\n  vars: {s: installed}\n  tasks:\n"
                                 "    - {name: t, package: {name: c, state: '{{ s }}'}}\n")
    assert ":5: 'task t' as rendered for host 'web1': state of the 'package' action" in message
    message = _refused(tmp_path, "- name: p\n  hosts: web\n  vars: {m: 2x}\n  containers:\n"
                                 "    - {name: app, image: busybox, memory: '{{ m }}'}\n")
    assert "'container app' as rendered for host 'web1': memory '2x'" in message


def test_action_states_come_from_the_catalog() -> None:
    # the table stays the one owner: the actions read their words from it
    from engine.actions import docker_image, file, package
    from engine.actions.catalog import CATALOG

    assert file.STATES is CATALOG["file"].choices["state"]
    assert package.STATES is CATALOG["package"].choices["state"]
    assert docker_image.SOURCES is CATALOG["docker_image"].choices["source"]


@pytest.mark.parametrize(("mode", "current", "is_directory", "expected"), [
    ("u=rwx,go=rx", 0o600, False, 0o755),
    ("u=rw,g=r,o=", 0o777, False, 0o640),
    ("g+w", 0o644, False, 0o664),
    ("a-x", 0o755, True, 0o644),
    ("a+X", 0o644, True, 0o755),
    ("a+X", 0o644, False, 0o644),
    ("a+X", 0o744, False, 0o755),
    ("+x", 0o644, False, 0o755),
    ("u+s,o+t", 0o755, True, 0o5755),
    ("g=u", 0o740, False, 0o770),
    ("u=rwx,u-w", 0o000, False, 0o500),
    ("go=", 0o4755, False, 0o4700),
])
def test_symbolic_mode_gives_the_mode_chmod_gives(
        mode: str, current: int, is_directory: bool, expected: int) -> None:
    from engine.actions.modes import apply_mode, explicit

    assert oct(apply_mode(explicit(mode), current, is_directory)) == oct(expected)


def test_symbolic_mode_compares_with_the_current_mode() -> None:
    from engine.actions.files import Attributes, PathState, attributes_from

    attributes = attributes_from({"mode": "u=rwx,go=rx"})
    assert attributes == Attributes(mode="u=rwx,go=rx")
    directory = PathState("directory", "0755", "0", "0", "root", "root")
    assert attributes.differing(directory).is_empty
    assert attributes.differing(PathState("directory", "0700", "0", "0", "root", "root")) \
        == Attributes(mode="0755")
    assert attributes_from({"mode": "+x"}).mode == "a+x"  # as Ansible: all, not the umask


# 8. messages


def test_tab_in_yaml_says_tab(tmp_path: Path) -> None:
    message = _loaded(tmp_path, "- name: p\n  hosts: web\n  tasks:\n\t- {name: a, command: echo}\n")
    assert ":4: invalid YAML: a tab character: YAML indents with spaces only" in message


def test_unquoted_template_value_says_quote_it(tmp_path: Path) -> None:
    message = _loaded(tmp_path, "- name: p\n  hosts: web\n  vars: {ver: 1}\n  containers:\n"
                                "    - name: app\n      image: {{ ver }}\n")
    assert ":6: a value that starts with '{{' must be quoted" in message


def test_incomplete_when_names_no_parenthesis_the_user_never_wrote(tmp_path: Path) -> None:
    message = _refused(tmp_path, f"{TASKS}    - {{name: t, command: echo, when: 'x =='}}\n")
    assert ":5: " in message and "the expression 'x ==' ends where a value was expected" \
        in message
    assert "')'" not in message


def test_missing_vars_file_names_the_playbook_line(tmp_path: Path) -> None:
    message = _loaded(tmp_path, "- name: p\n  hosts: web\n  vars_files: [nothere.yml]\n"
                                "  tasks:\n    - {name: a, command: echo}\n")
    assert message.startswith(f"{tmp_path / 'play.yml'}:3: vars file 'nothere.yml' not found")


def test_empty_inventory_folder_is_named_not_the_plays_pattern(tmp_path: Path) -> None:
    (tmp_path / "inventory").mkdir()
    result = play("graph", _site(tmp_path), "-i", str(tmp_path / "inventory"))
    assert result.returncode == 4
    assert f"{tmp_path / 'inventory'}: this inventory folder holds no inventory file" \
        in result.stderr


def test_missing_play_inventory_names_the_variable(tmp_path: Path) -> None:
    environment = {**os.environ, "PYTHONPATH": str(ROOT),
                   "PLAY_INVENTORY": str(tmp_path / "gone.yml")}
    result = subprocess.run([sys.executable, "-m", "engine", "graph", _site(tmp_path)],
                            capture_output=True, text=True, env=environment, timeout=60,
                            check=False)
    assert result.returncode == 4
    assert f"$PLAY_INVENTORY ({tmp_path / 'gone.yml'}) does not exist" in result.stderr


def test_unknown_limit_says_it_came_from_limit(tmp_path: Path) -> None:
    result = play("graph", _site(tmp_path), "-i", str(HOSTS), "-l", "wbe1")
    assert result.returncode == 4
    assert "--limit: pattern 'wbe1': no host or group" in result.stderr
    assert "did you mean 'web1'?" in result.stderr


def test_missing_template_lists_each_place_looked_once(tmp_path: Path) -> None:
    (tmp_path / "site.yml").write_text("- name: p\n  hosts: web\n  tasks:\n"
                                       "    - {name: a, template: {src: nope.j2, dest: /x}}\n")
    result = play("graph", "site.yml", "-i", str(HOSTS), cwd=tmp_path)
    assert result.returncode == 4
    looked = result.stderr.split("looked in: ")[1].rstrip(")\n").split(", ")
    assert len(looked) == len(set(looked)) == 2, result.stderr


@pytest.mark.parametrize("value", ["-5", "nan"])
def test_negative_lock_timeout_is_refused(tmp_path: Path, value: str) -> None:
    result = play(_site(tmp_path), "-i", str(HOSTS), "--lock-timeout", value)
    assert result.returncode == 4
    assert "--lock-timeout must be 0 or more seconds" in result.stderr


def test_version_with_another_argument_is_refused() -> None:
    result = play("--version", "extra")
    assert result.returncode == 4 and "--version takes no other argument" in result.stderr
    assert play("--version").returncode == 0


def test_graph_counts_in_singular_and_plural(tmp_path: Path) -> None:
    result = play("graph", _site(tmp_path), "-i", str(HOSTS), "-l", "web1")
    assert "1 step on 1 host, 1 level\n" in result.stdout


@pytest.mark.parametrize(("word", "choices", "expected"), [
    ("db", ["web", "all"], ""),
    ("wbe", ["web", "db"], "; did you mean 'web'?"),
    ("lab9", ["lab1", "db"], "; did you mean 'lab1'?"),
    ("tsk", ["task", "tags"], "; did you mean 'task'?"),
    ("ab", ["abcd"], ""),
    ("verison", ["version"], "; did you mean 'version'?"),
])
def test_did_you_mean_is_strict_for_short_words(
        word: str, choices: list[str], expected: str) -> None:
    from engine.errors import did_you_mean

    assert did_you_mean(word, choices) == expected
