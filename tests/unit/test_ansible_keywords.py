"""Ansible's task and play keywords as Ansible reads them: with_* loops, loop_control,
become_user, remote_user, environment, args: and free-form command options, and serial
and replicas as templates of play vars and -e."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import engine.tasks
from engine.actions.base import ActionContext, Outcome, with_environment
from engine.cli import main
from engine.commands.options import read_inventory as _load_inventory
from engine.connection import command_line
from engine.errors import InputError
from engine.execute import Limits, Scheduler
from engine.playbook import load_playbook
from engine.playbook.keywords import split_free_form
from engine.run import prepare
from engine.run_options import RunOptions
from engine.tasks import StepOptions, StepRunner

HOSTS = "all:\n  hosts:\n    web1: {connection: local}\n    web2: {connection: local}\n"


class _Pool:
    def get(self, host: str) -> object:
        return SimpleNamespace(host=host)  # a stand-in connection that says whose it is


def run_tasks(tmp_path: Path, play: str, monkeypatch: pytest.MonkeyPatch,
              extra_vars: tuple[str, ...] = (), hosts: str = HOSTS,
              limit: str | None = "web1") -> tuple[dict[str, Any], list[Any]]:
    """Run a play on web1 with an action that records what it was given."""
    seen: list[Any] = []

    def record(args: Mapping[str, Any] | str, context: ActionContext) -> Outcome:
        seen.append((dict(args) if isinstance(args, Mapping) else args, context))
        return Outcome(changed=True, msg=f"ran {args}")

    monkeypatch.setattr(engine.tasks, "find_action", lambda name: record)
    (tmp_path / "hosts.yml").write_text(hosts)
    (tmp_path / "play.yml").write_text(play)
    prepared = prepare(RunOptions(playbook=str(tmp_path / "play.yml"),
                                  inventories=(str(tmp_path / "hosts.yml"),), limit=limit,
                                  extra_vars=extra_vars), _load_inventory)
    runner = StepRunner(prepared.plan, prepared.inventory, prepared.extra_vars,
                        _Pool(), StepOptions())  # type: ignore[arg-type]
    results = Scheduler(prepared.plan.graph, runner, Limits()).run()
    return {node[1].split("/")[-1]: result for node, result in results.items()}, seen


def play_of(tasks: str, **keywords: str) -> str:
    head = "".join(f"  {key}: {value}\n" for key, value in keywords.items())
    return f"- name: p\n  hosts: all\n{head}  tasks:\n{tasks}"


# --- loops ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("loop", "expected"), [
    ("with_items: [[a, b], c]", ["a", "b", "c"]),          # with_items flattens one level
    ("with_list: [[a, b], c]", [["a", "b"], "c"]),
    ("loop: [[a, b], c]", [["a", "b"], "c"]),
    ("with_items: '{{ one }}'", ["x"]),                      # a single value loops once
    ("with_dict: {b: 2, a: 1}", [{"key": "b", "value": 2}, {"key": "a", "value": 1}]),
])
def test_with_loops_give_items_as_ansibles_lookups_do(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loop: str, expected: list[Any]) -> None:
    _, seen = run_tasks(tmp_path, play_of(
        f"    - name: t\n      command: {{argv: ['{{{{ item }}}}']}}\n      {loop}\n",
        vars="{one: x}"), monkeypatch)
    assert [args["argv"][0] for args, _ in seen] == expected


def test_loop_control_names_the_item_its_index_and_the_label_shown(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results, seen = run_tasks(tmp_path, play_of(
        "    - name: users\n      command: 'useradd {{ user.name }} {{ i }}'\n"
        "      loop: [{name: ann, password: s1}, {name: bob, password: s2}]\n"
        "      loop_control: {loop_var: user, index_var: i, label: '{{ user.name }}'}\n"
        "      register: made\n"
        "    - name: after\n      command: \"echo {{ made.results | map(attribute='i') | "
        "join(',') }} {{ made.results[1].user.name }} {{ made.results[0].ansible_loop_var }}\"\n"),
        monkeypatch)
    assert [args for args, _ in seen] == ["useradd ann 0", "useradd bob 1", "echo 0,1 bob user"]
    assert results["users"].msg == ("(item=ann) changed: ran useradd ann 0; "
                                    "(item=bob) changed: ran useradd bob 1")
    assert "s1" not in results["users"].msg


def test_a_label_is_rendered_in_the_scope_its_item_ran_in(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What an earlier item set (set_fact in a loop) is seen by the next item and by its
    label alike."""
    def remember(args: Mapping[str, Any] | str, context: ActionContext) -> Outcome:
        return Outcome(changed=True, ansible_facts={"seen": args})

    monkeypatch.setattr(engine.tasks, "find_action", lambda name: remember)
    (tmp_path / "hosts.yml").write_text(HOSTS)
    (tmp_path / "play.yml").write_text(play_of(
        "    - name: t\n      command: 'x {{ item }}'\n      loop: [a, b]\n"
        "      loop_control: {label: \"{{ item }} after {{ seen | default('none') }}\"}\n"))
    prepared = prepare(RunOptions(playbook=str(tmp_path / "play.yml"),
                                  inventories=(str(tmp_path / "hosts.yml"),), limit="web1"),
                       _load_inventory)
    runner = StepRunner(prepared.plan, prepared.inventory, prepared.extra_vars,
                        _Pool(), StepOptions())  # type: ignore[arg-type]
    results = Scheduler(prepared.plan.graph, runner, Limits()).run()
    (result,) = results.values()
    assert result.msg == "(item=a after none) changed; (item=b after x a) changed"


@pytest.mark.parametrize(("task", "message"), [
    ("      loop: [a]\n      with_items: [b]\n", "has both 'loop' and 'with_items'"),
    ("      with_dict: [a]\n", "'with_dict' of task 't' must be a mapping"),
    ("      loop_control: {loop_var: x}\n", "'loop_control' of task 't' needs 'loop'"),
    ("      loop: [a]\n      loop_control: {loop_var: 'x-y'}\n", "loop_var of task 't' must be "
     "a variable name"),
    ("      loop: [a]\n      loop_control: {lable: x}\n", "did you mean 'label'?"),
])
def test_loop_mistakes_are_input_errors(tmp_path: Path, task: str, message: str) -> None:
    (tmp_path / "play.yml").write_text(play_of(f"    - name: t\n      command: 'true'\n{task}"))
    with pytest.raises(InputError, match=message):
        load_playbook(tmp_path / "play.yml")


# --- free-form options and args: -------------------------------------------------------------


@pytest.mark.parametrize(("action", "line", "expected"), [
    ("command", "chdir=/srv creates=out.txt make all", {"chdir": "/srv", "creates": "out.txt",
                                                        "cmd": "make all"}),
    ("shell", "echo hi > /tmp/f removes=/tmp/g", {"removes": "/tmp/g",
                                                  "cmd": "echo hi > /tmp/f"}),
    ("command", 'chdir="/my dir" ls "a b"', {"chdir": "/my dir", "cmd": 'ls "a b"'}),
    ("shell", "chdir={{ base }}/app echo '{{ x == y }}'", {"chdir": "{{ base }}/app",
                                                         "cmd": "echo '{{ x == y }}'"}),
    ("shell", "executable=/bin/bash echo $BASH", {"executable": "/bin/bash",
                                                  "cmd": "echo $BASH"}),
    ("command", "echo key=value", "echo key=value"),       # only the action's own options
    ("command", "echo 'creates=x'", "echo 'creates=x'"),    # a quoted word is the command's
])
def test_free_form_options_are_taken_out_of_the_line(action: str, line: str,
                                                     expected: Any) -> None:
    assert split_free_form(action, line) == expected


def test_free_form_and_args_reach_the_action_as_arguments(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, seen = run_tasks(tmp_path, play_of(
        "    - name: free\n      shell: chdir=/srv ls > list.txt creates=list.txt\n"
        "    - name: with args\n      command: make\n      args: {chdir: /build, creates: out}\n"
        "    - name: own wins\n      command: {cmd: make, chdir: /mine}\n"
        "      args: {chdir: /theirs, removes: x}\n"), monkeypatch)
    assert [args for args, _ in seen] == [
        {"chdir": "/srv", "creates": "list.txt", "cmd": "ls > list.txt"},
        {"chdir": "/build", "creates": "out", "cmd": "make"},
        {"chdir": "/mine", "removes": "x", "cmd": "make"}]


def test_an_action_on_one_line_takes_key_value_words_as_ansible_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, seen = run_tasks(tmp_path, play_of(
        "    - name: msg\n      debug: msg=\"hello {{ who }} and {{ 'you' | upper }}\"\n"
        "    - name: var\n      ansible.builtin.debug: var=who\n"
        "    - name: quoted\n      debug: msg='a b' verbosity=0\n"
        "    - name: file\n      file: path=/srv/x state=directory mode=0750\n",
        vars="{who: world}"), monkeypatch)
    assert [args for args, _ in seen] == [
        {"msg": "hello world and YOU"}, {"var": "who"}, {"msg": "a b", "verbosity": "0"},
        {"path": "/srv/x", "state": "directory", "mode": "0750"}]


@pytest.mark.parametrize(("line", "message"), [
    ("debug: hello", "takes key=value words"),
    ("debug: msg=hi colour=red", "unknown key 'colour'"),
])
def test_a_one_line_action_that_is_not_key_values_is_refused(tmp_path: Path, line: str,
                                                             message: str) -> None:
    (tmp_path / "play.yml").write_text(play_of(f"    - name: t\n      {line}\n"))
    with pytest.raises(InputError, match=message) as error:
        load_playbook(tmp_path / "play.yml")
    assert error.value.location is not None and error.value.location.line == 5


def test_args_with_an_unknown_argument_is_refused(tmp_path: Path) -> None:
    (tmp_path / "play.yml").write_text(play_of(
        "    - name: t\n      command: make\n      args: {chdri: /build}\n"))
    with pytest.raises(InputError, match=r"unknown key 'chdri'.*did you mean 'chdir'"):
        load_playbook(tmp_path / "play.yml")


# --- environment, become_user ---------------------------------------------------------------


def test_environment_of_play_and_task_merge_and_render(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, seen = run_tasks(tmp_path, play_of(
        "    - name: t\n      command: env\n"
        "      environment: {HTTP_PROXY: 'http://{{ proxy }}', DEBUG: true}\n",
        vars="{proxy: 'p:3128'}", environment="{LANG: C.UTF-8, DEBUG: 0}"), monkeypatch)
    assert seen[0][1].environment == {"LANG": "C.UTF-8", "DEBUG": "true",
                                      "HTTP_PROXY": "http://p:3128"}


def test_environment_merges_play_into_blocks_into_task_the_innermost_winning_per_name(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, seen = run_tasks(tmp_path, play_of(
        "    - environment: {B: block, C: block, D: block}\n"
        "      block:\n"
        "        - environment: {C: inner, E: '{{ e }}'}\n"
        "          block:\n"
        "            - name: t\n              command: env\n"
        "              environment: {D: task}\n"
        "            - name: own\n              command: env\n"
        "    - environment: '{{ proxy_env }}'\n"
        "      block:\n"
        "        - name: templated\n          command: env\n"
        "          environment: {HTTP_PROXY: mine}\n",
        vars="{e: from-var, proxy_env: {HTTP_PROXY: theirs, NO_PROXY: lab}}",
        environment="{A: play, B: play}"), monkeypatch)
    assert [context.environment for _, context in seen] == [
        {"A": "play", "B": "block", "C": "inner", "D": "task", "E": "from-var"},
        {"A": "play", "B": "block", "C": "inner", "D": "block", "E": "from-var"},
        {"A": "play", "B": "play", "HTTP_PROXY": "mine", "NO_PROXY": "lab"}]


def test_environment_values_go_through_stdin_never_the_command_line() -> None:
    secret = "it's $(touch /tmp/x); `id`"
    argv, stdin = with_environment(["printenv", "TOKEN"], b"input\n", {"TOKEN": secret})
    assert secret not in " ".join(argv)
    assert stdin is not None and stdin.endswith(b"input\n")
    script = stdin[:int(argv[4])].decode()
    assert shlex.split(script.split("=", 1)[1]) == [secret]
    import subprocess

    completed = subprocess.run(argv, input=stdin, capture_output=True, check=True)
    assert completed.stdout.decode() == secret + "\n"
    piped = subprocess.run(with_environment(["cat"], b"rest of stdin", {"A": "1"})[0],
                           input=with_environment(["cat"], b"rest of stdin", {"A": "1"})[1],
                           capture_output=True, check=True)
    assert piped.stdout == b"rest of stdin"


@pytest.mark.parametrize(("environment", "message"), [
    ("[A]", "'environment' of task 't' must be a mapping"),
    ("{'A-B': 1}", "'A-B' is not an environment variable name"),
    ("{A: [1]}", "environment A of task 't' must be a plain value"),
])
def test_environment_mistakes_are_input_errors(tmp_path: Path, environment: str,
                                               message: str) -> None:
    (tmp_path / "play.yml").write_text(play_of(
        f"    - name: t\n      command: env\n      environment: {environment}\n"))
    with pytest.raises(InputError, match=message):
        load_playbook(tmp_path / "play.yml")


def test_become_user_is_sudo_u_with_the_users_home() -> None:
    assert command_line(["id"], become=True, become_user="app") == (
        "sudo -H -u app --preserve-env=DOCKER_HOST -n -- id")
    assert "-H -u 'app x'" in command_line(["id"], True, True, "app x")


def test_become_user_of_task_over_play_over_inventory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, seen = run_tasks(tmp_path, play_of(
        "    - {name: own, command: id, become: true, become_user: '{{ app }}'}\n"
        "    - {name: plays, command: id, become: true}\n",
        vars="{app: web}", become_user="postgres"), monkeypatch)
    assert [(context.become, context.become_user) for _, context in seen] == [
        (True, "web"), (True, "postgres")]


BECOME_USERS = """\
    - {name: play keyword, command: id}
    - {name: task keyword, command: id, become_user: bin}
    - become_user: sys
      block:
        - {name: block keyword, command: id}
    - name: task var
      command: id
      become_user: bin
      vars: {ansible_become_user: sys}
"""


@pytest.mark.parametrize(("extra_vars", "expected"), [
    # what ansible-playbook 2.19 runs as for the same play and inventory (id -un):
    # ansible_become_user, a variable, wins over every keyword; keywords: task > block > play
    ((), {"web1": ["nobody", "nobody", "nobody", "sys"], "web2": ["daemon", "bin", "sys", "sys"]}),
    (("ansible_become_user=games",), {"web1": ["games"] * 4, "web2": ["games"] * 4}),
])
def test_become_user_follows_ansibles_precedence(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra_vars: tuple[str, ...],
        expected: dict[str, list[str]]) -> None:
    hosts = ("all:\n  hosts:\n    web1: {connection: local, ansible_become_user: nobody}\n"
             "    web2: {connection: local}\n")
    _, seen = run_tasks(tmp_path, play_of(BECOME_USERS, become="true", become_user="daemon"),
                        monkeypatch, extra_vars, hosts, limit=None)
    users: dict[str, list[str]] = {"web1": [], "web2": []}
    for _, context in seen:
        users[context.connection.host].append(context.become_user)
    assert users == expected


# --- remote_user ----------------------------------------------------------------------------


def settings_of(tmp_path: Path, hosts: str, play: str) -> Any:
    (tmp_path / "hosts.yml").write_text(hosts)
    (tmp_path / "play.yml").write_text(play)
    return prepare(RunOptions(playbook=str(tmp_path / "play.yml"),
                              inventories=(str(tmp_path / "hosts.yml"),)),
                   _load_inventory).connection_settings


def test_remote_user_is_the_login_unless_the_inventory_names_one(tmp_path: Path) -> None:
    settings = settings_of(tmp_path, "all:\n  hosts:\n    web1:\n    web2: {user: ops}\n",
                           play_of("    - {name: t, command: id}\n", remote_user="admin"))
    assert (settings["web1"].endpoint.user, settings["web2"].endpoint.user) == ("admin", "ops")


def test_two_logins_for_one_host_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="host 'web1' would log in as 'admin' and as 'root'"):
        settings_of(tmp_path, "all:\n  hosts:\n    web1:\n", play_of(
            "    - {name: t, command: id}\n    - {name: u, command: id, remote_user: root}\n",
            remote_user="admin"))


# --- serial and replicas as templates --------------------------------------------------------


def graph(tmp_path: Path, play: str, *extra: str) -> tuple[int, str, str]:
    (tmp_path / "hosts.yml").write_text(HOSTS)
    (tmp_path / "play.yml").write_text(play)
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["graph", str(tmp_path / "play.yml"), "-i", str(tmp_path / "hosts.yml"),
                       "--format", "json", *extra])
    return status, out.getvalue(), err.getvalue()


def test_serial_may_be_a_template_of_extra_vars(tmp_path: Path) -> None:
    play = play_of("    - {name: t, command: id}\n", serial="'{{ batch }}'",
                   vars="{batch: 2}")
    status, default, _ = graph(tmp_path, play)
    assert status == 0
    status, one_by_one, _ = graph(tmp_path, play, "-e", "batch=1")
    assert status == 0 and one_by_one != default  # batches are now edges of the graph


def test_serial_template_of_a_host_var_is_refused_saying_why(tmp_path: Path) -> None:
    status, _, err = graph(tmp_path, play_of("    - {name: t, command: id}\n",
                                             serial="'{{ per_host }}'"))
    assert status == 4
    assert "serial '{{ per_host }}' cannot be rendered" in err
    assert "from play vars, vars_files and -e only (not host vars)" in err


def test_replicas_may_be_a_template_of_play_vars_and_extra_vars(tmp_path: Path) -> None:
    play = ("- name: p\n  hosts: all\n  vars: {n: 1}\n  containers:\n"
            "    - {name: api, image: 'busybox:1', replicas: '{{ n }}'}\n")
    (tmp_path / "hosts.yml").write_text(HOSTS)
    (tmp_path / "play.yml").write_text(play)
    for extra, expected in (((), 1), (("n=2",), 2)):
        prepared = prepare(RunOptions(playbook=str(tmp_path / "play.yml"),
                                      inventories=(str(tmp_path / "hosts.yml"),),
                                      extra_vars=extra), _load_inventory)
        container = prepared.plan.playbook.plays[0].steps[0].body
        assert container.replicas == expected  # type: ignore[union-attr]
    status, _, err = graph(tmp_path, play, "-e", "n=none")
    assert status == 4 and "'replicas' of container 'api' must be a whole number" in err
