"""Ansible's structure in play: roles, includes, blocks, pre/post tasks, handler listen,
delegate_to and gather_facts, as a user sees them (loaded plays, `play graph`, and runs on
a local-connection host that write to a temporary folder)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.actions.setup import parse_facts
from engine.errors import InputError
from engine.playbook import TaskSpec, load_playbook
from engine.variables import host_scope

ROOT = Path(__file__).parent.parent.parent
CORPUS = ROOT / "tests" / "data" / "ansible"


def _task_names(path: Path) -> list[str]:
    return [step.name for step in load_playbook(path).plays[0].steps if step.kind == "task"]


def _task(path: Path, name: str) -> TaskSpec:
    step = next(step for step in load_playbook(path).plays[0].steps if step.name == name)
    assert isinstance(step.body, TaskSpec)
    return step.body


def test_sections_run_in_ansible_order_pre_tasks_roles_tasks_post_tasks() -> None:
    assert _task_names(CORPUS / "pre_post_order.yml") == [
        "first", "users : Accounts", "users : SSH directories", "users : Authorized keys",
        "users : Login banner", "third", "last"]


def test_role_dependencies_run_first_and_a_role_listed_twice_alike_runs_once() -> None:
    names = _task_names(CORPUS / "app_deploy.yml")
    assert names.index("docker_install : Install the engine") < names.index(
        "app_deploy : Release directories")
    assert _task_names(CORPUS / "role_twice.yml") == _task_names(CORPUS / "nginx_site.yml")


def test_role_tasks_keep_their_own_file_and_line() -> None:
    playbook = load_playbook(CORPUS / "nginx_site.yml")
    step = next(step for step in playbook.plays[0].steps if step.name == "nginx : Sites directory")
    assert step.source.file.endswith("roles/nginx/tasks/configure.yml")
    assert step.source.line == 2


def test_an_error_in_a_role_points_into_the_roles_file(tmp_path: Path) -> None:
    (tmp_path / "roles" / "broken" / "tasks").mkdir(parents=True)
    (tmp_path / "roles" / "broken" / "tasks" / "main.yml").write_text(
        "- name: fine\n  command: 'true'\n- name: typo\n  comand: 'true'\n")
    (tmp_path / "play.yml").write_text("- name: p\n  hosts: all\n  roles: [broken]\n")
    with pytest.raises(InputError) as error:
        load_playbook(tmp_path / "play.yml")
    assert error.value.location.file.endswith("roles/broken/tasks/main.yml")
    assert error.value.location.line == 4
    assert "did you mean 'command'?" in error.value.message


def test_role_variables_follow_ansible_precedence() -> None:
    """Role defaults below the inventory and play vars; role vars above play vars."""
    playbook = load_playbook(CORPUS / "role_precedence.yml")
    play = playbook.plays[0]
    task = _task(CORPUS / "role_precedence.yml", "docker_install : Install the engine")

    def scope(inventory_vars: dict[str, object]) -> object:
        return host_scope("app1", inventory_vars, play.vars, {}, {}, {},
                          task_vars=task.vars, role_defaults=task.defaults)

    plain = scope({})
    assert plain["docker_package"] == "docker.io"        # vars/main.yml beats play vars
    assert plain["docker_log_max_size"] == "50m"         # play vars beat defaults/main.yml
    assert plain["docker_users"] == []                   # defaults/main.yml
    assert scope({"docker_users": ["ci"]})["docker_users"] == ["ci"]  # inventory beats it


def test_role_params_reach_the_roles_tasks() -> None:
    task = _task(CORPUS / "sshd_hardening.yml", "sshd_hardening : Write sshd_config")
    assert task.vars["sshd_permit_root_login"] == "prohibit-password"
    assert task.defaults["sshd_port"] == 22


def test_a_block_gives_its_tasks_its_condition_and_become() -> None:
    task = _task(CORPUS / "block_when_become.yml", "Rules")
    assert task.when == "(manage_firewall) and ('web' in group_names)"
    assert task.become is True


def test_block_vars_and_tags_reach_its_tasks() -> None:
    step = next(step for step in load_playbook(CORPUS / "block_tags.yml").plays[0].steps
                if step.name == "Config file")
    assert "config" in step.tags
    assert isinstance(step.body, TaskSpec) and step.body.vars == {"config_dir": "/etc/app"}


def test_notify_reaches_every_handler_listening_to_the_topic() -> None:
    task = _task(CORPUS / "handlers_listen.yml", "Certificate")
    assert task.notify == ("Reload nginx", "Restart the exporter")


def test_a_play_task_notifies_a_roles_handler_by_its_bare_name() -> None:
    task = _task(CORPUS / "role_handler_notify.yml", "Extra sshd setting")
    assert task.notify == ("sshd_hardening : restart sshd",)


def test_a_templated_include_renders_from_play_vars_and_extra_vars(tmp_path: Path) -> None:
    (tmp_path / "db.yml").write_text("- name: db task\n  command: 'true'\n")
    (tmp_path / "play.yml").write_text(
        "- name: p\n  hosts: all\n  tasks:\n    - include_tasks: '{{ tier }}.yml'\n")
    assert [step.name for step in load_playbook(tmp_path / "play.yml", {"tier": "db"})
            .plays[0].steps] == ["db task"]
    with pytest.raises(InputError, match="cannot be expanded when the playbook loads"):
        load_playbook(tmp_path / "play.yml")


def test_a_roles_template_is_found_in_the_roles_templates_folder() -> None:
    task = _task(CORPUS / "nginx_site.yml", "nginx : Main configuration")
    assert task.args["src"].endswith("roles/nginx/templates/nginx.conf.j2")


def test_facts_are_parsed_into_ansibles_names() -> None:
    facts = parse_facts(
        "hostname=web1.lab\nfqdn=web1.lab\nsystem=Linux\nkernel=6.1.0\narchitecture=x86_64\n"
        "os_id=debian\nos_name=Debian GNU/Linux\nos_version=12\nos_codename=bookworm\n"
        "os_like=\nvcpus=4\nmemtotal_kb=8043212\ngateway=10.0.0.1\ninterface=eth0\n"
        "address=10.0.0.5\n")
    assert facts["hostname"] == "web1"
    assert facts["distribution"] == "Debian"
    assert facts["distribution_version"] == "12"
    assert facts["distribution_major_version"] == "12"
    assert facts["distribution_release"] == "bookworm"
    assert facts["os_family"] == "Debian"
    assert facts["processor_vcpus"] == 4
    assert facts["memtotal_mb"] == 7854
    assert facts["default_ipv4"] == {"address": "10.0.0.5", "interface": "eth0",
                                     "gateway": "10.0.0.1"}


def test_a_derivative_distribution_takes_its_family_from_id_like() -> None:
    facts = parse_facts("os_id=linuxmint\nos_name=Linux Mint\nos_like=ubuntu debian\n")
    assert facts["os_family"] == "Debian"
    assert facts["default_ipv4"] == {}


# --- runs on a local-connection host ------------------------------------------------

def _run(tmp_path: Path, playbook: str, *arguments: str) -> tuple[int, str]:
    (tmp_path / "hosts.yml").write_text(
        "all:\n  hosts:\n    h1: {connection: local}\n    h2: {connection: local}\n")
    (tmp_path / "play.yml").write_text(playbook)
    result = subprocess.run([sys.executable, "-m", "engine", str(tmp_path / "play.yml"), "-i",
                             str(tmp_path / "hosts.yml"), *arguments], capture_output=True,
                            text=True, cwd=ROOT, timeout=60, check=False)
    return result.returncode, result.stdout


def _log(tmp_path: Path) -> list[str]:
    path = tmp_path / "log"
    return path.read_text().split() if path.exists() else []


def _step(name: str, command: str = "true", indent: int = 4) -> str:
    pad = " " * indent
    return (f"{pad}- name: {name}\n{pad}  shell: {command} && echo {name}-{{{{ "
            f"inventory_hostname }}}} >> {{{{ playbook_dir }}}}/log\n")


BLOCK = ("- name: p\n  hosts: h1\n  tasks:\n    - block:\n{body}      rescue:\n{rescue}"
         "      always:\n{always}{after}")


def test_a_failed_block_runs_its_rescue_then_always_and_the_run_goes_on(tmp_path: Path) -> None:
    status, out = _run(tmp_path, BLOCK.format(
        body=_step("b1", indent=8) + _step("b2", "false", 8) + _step("b3", indent=8),
        rescue=_step("r1", indent=8), always=_step("a1", indent=8), after=_step("next")))
    assert _log(tmp_path) == ["b1-h1", "r1-h1", "a1-h1", "next-h1"]
    assert status == 0          # rescued, as in Ansible
    assert "rescued" in out


def test_a_block_that_succeeds_skips_its_rescue(tmp_path: Path) -> None:
    status, _ = _run(tmp_path, BLOCK.format(
        body=_step("b1", indent=8), rescue=_step("r1", indent=8),
        always=_step("a1", indent=8), after=_step("next")))
    assert _log(tmp_path) == ["b1-h1", "a1-h1", "next-h1"]
    assert status == 0


def test_a_failed_rescue_runs_always_and_stops_the_host(tmp_path: Path) -> None:
    status, _ = _run(tmp_path, BLOCK.format(
        body=_step("b1", "false", 8), rescue=_step("r1", "false", 8),
        always=_step("a1", indent=8), after=_step("next")))
    assert _log(tmp_path) == ["a1-h1"]
    assert status == 2


def test_a_failure_before_the_block_runs_neither_rescue_nor_always(tmp_path: Path) -> None:
    playbook = BLOCK.format(body=_step("b1", indent=8), rescue=_step("r1", indent=8),
                            always=_step("a1", indent=8), after="")
    playbook = playbook.replace("  tasks:\n", "  tasks:\n" + _step("first", "false"))
    status, _ = _run(tmp_path, playbook)
    assert _log(tmp_path) == []
    assert status == 2


def test_an_inner_block_rescued_lets_the_outer_block_go_on(tmp_path: Path) -> None:
    inner = ("        - block:\n" + _step("i1", "false", 12) + "          rescue:\n"
             + _step("ir", indent=12))
    status, _ = _run(tmp_path, BLOCK.format(
        body=inner + _step("o2", indent=8), rescue=_step("or", indent=8),
        always=_step("oa", indent=8), after=""))
    assert _log(tmp_path) == ["ir-h1", "o2-h1", "oa-h1"]
    assert status == 0


def test_a_failed_block_with_only_always_stops_what_follows(tmp_path: Path) -> None:
    playbook = ("- name: p\n  hosts: h1\n  tasks:\n    - block:\n" + _step("b1", "false", 8)
                + "      always:\n" + _step("a1", indent=8) + _step("next"))
    status, _ = _run(tmp_path, playbook)
    assert _log(tmp_path) == ["a1-h1"]
    assert status == 2


def test_a_handler_listening_to_a_topic_runs_once_notified(tmp_path: Path) -> None:
    playbook = ("- name: p\n  hosts: h1\n  tasks:\n" + _step("t1")[:-1] +
                "\n      notify: things changed\n  handlers:\n" + _step("h_one")[:-1] +
                "\n      listen: things changed\n" + _step("h_other"))
    status, _ = _run(tmp_path, playbook)
    assert _log(tmp_path) == ["t1-h1", "h_one-h1"]
    assert status == 0


def test_delegate_to_runs_on_the_delegate_with_the_hosts_variables(tmp_path: Path) -> None:
    playbook = ("- name: p\n  hosts: all\n  tasks:\n"
                "    - name: on the control node\n"
                "      shell: echo {{ inventory_hostname }} >> {{ playbook_dir }}/log\n"
                "      delegate_to: localhost\n")
    status, _ = _run(tmp_path, playbook)
    assert sorted(_log(tmp_path)) == ["h1", "h2"]
    assert status == 0


def test_gather_facts_defines_the_facts_before_the_first_task(tmp_path: Path) -> None:
    playbook = ("- name: p\n  hosts: h1\n  gather_facts: true\n  tasks:\n"
                "    - name: facts\n"
                "      shell: echo {{ ansible_hostname }} {{ ansible_processor_vcpus }} "
                "{{ ansible_facts.os_family | length > 0 }} >> {{ playbook_dir }}/log\n")
    status, _ = _run(tmp_path, playbook)
    assert status == 0
    hostname, vcpus, has_family = _log(tmp_path)
    assert hostname == Path("/proc/sys/kernel/hostname").read_text().strip().split(".")[0]
    assert int(vcpus) >= 1
    assert has_family == "True"


def test_tags_that_leave_out_the_rescue_leave_a_failed_block_failed(tmp_path: Path) -> None:
    deploy = "          tags: [deploy]\n"
    playbook = BLOCK.format(body=_step("b1", "false", 8) + deploy,
                            rescue=_step("r1", indent=8), always=_step("a1", indent=8),
                            after=_step("next") + "      tags: [deploy]\n")
    status, _ = _run(tmp_path, playbook, "--tags", "deploy")
    assert _log(tmp_path) == []
    assert status == 2


def test_play_graph_draws_the_rescue_edge_as_if_failed() -> None:
    result = subprocess.run([sys.executable, "-m", "engine", "graph",
                             str(CORPUS / "block_rescue.yml"), "-i", str(CORPUS / "hosts.yml"),
                             "-l", "web1", "--format", "dot"], capture_output=True, text=True,
                            cwd=ROOT, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert ('"web1|0/task/Start the new version" -> "web1|0/task/Start the old version again" '
            '[style=dashed, color="#c9302c", label="if failed", fontsize=9];') in result.stdout
    assert '"web1|0/task/Start the old version again" -> "web1|0/task/Carry on" [style=solid];' \
        in result.stdout


def test_ansible_roles_path_is_read_when_play_roles_path_is_unset(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "elsewhere" / "ntp" / "tasks").mkdir(parents=True)
    (tmp_path / "elsewhere" / "ntp" / "tasks" / "main.yml").write_text(
        "- name: chrony\n  package: {name: chrony}\n")
    (tmp_path / "play.yml").write_text("- name: p\n  hosts: all\n  roles: [ntp]\n")
    monkeypatch.delenv("PLAY_ROLES_PATH", raising=False)
    monkeypatch.setenv("ANSIBLE_ROLES_PATH", f"/nonexistent:{tmp_path / 'elsewhere'}")
    assert _task_names(tmp_path / "play.yml") == ["ntp : chrony"]


def test_a_delegated_task_uses_the_delegates_connection_and_the_hosts_vars(
        tmp_path: Path) -> None:
    from engine.commands.options import read_inventory as _load_inventory
    from engine.connection import CommandResult
    from engine.execute import Limits, Scheduler
    from engine.run import prepare
    from engine.run_options import RunOptions
    from engine.tasks import StepOptions, StepRunner

    asked: list[tuple[str, str]] = []

    class Recorder:
        def __init__(self, name: str) -> None:
            self.name = name

        def run(self, argv: list[str], **_: object) -> CommandResult:
            asked.append((self.name, argv[-1]))
            return CommandResult(" ".join(argv), 0, "", "", 0.0)

    class Pool:
        def get(self, name: str) -> Recorder:
            return Recorder(name)

        def knows(self, name: str) -> bool:
            return name in ("web1", "db1")

    (tmp_path / "hosts.yml").write_text(
        "all:\n  hosts:\n    web1: {connection: local}\n    db1: {connection: local}\n")
    (tmp_path / "play.yml").write_text(
        "- name: p\n  hosts: web1\n  tasks:\n    - name: grant\n"
        "      shell: grant {{ inventory_hostname }}\n      delegate_to: db1\n")
    prepared = prepare(RunOptions(playbook=str(tmp_path / "play.yml"),
                                  inventories=(str(tmp_path / "hosts.yml"),)), _load_inventory)
    runner = StepRunner(prepared.plan, prepared.inventory, {}, Pool(),  # type: ignore[arg-type]
                        StepOptions())
    results = Scheduler(prepared.plan.graph, runner, Limits()).run()
    assert [result.status for result in results.values()] == ["changed"]
    assert len(asked) == 1 and asked[0][0] == "db1" and "grant web1" in asked[0][1]


def test_a_looped_include_expands_the_file_once_per_item_in_order() -> None:
    playbook = load_playbook(CORPUS / "include_tasks_loop.yml")
    tasks = [step for step in playbook.plays[0].steps if step.kind == "task"]
    assert [step.name for step in tasks] == [
        "Site folder (shop)", "Site config (shop)", "Site folder (blog)", "Site config (blog)"]
    assert [step.body.vars["vhost"]["port"] for step in tasks  # type: ignore[union-attr]
            ] == [8081, 8081, 8082, 8082]


def test_a_looped_include_runs_each_iteration_with_its_item_and_index(tmp_path: Path) -> None:
    (tmp_path / "each.yml").write_text(
        "- name: first\n  shell: echo {{ user }}-{{ n }}-a >> {{ playbook_dir }}/log\n"
        "- name: second\n  shell: echo {{ user }}-{{ n }}-b >> {{ playbook_dir }}/log\n")
    status, out = _run(tmp_path, "- name: p\n  hosts: h1\n  tasks:\n"
                       "    - include_tasks: each.yml\n      with_items: [ann, bob, ann]\n"
                       "      loop_control: {loop_var: user, index_var: n}\n"
                       "      when: user != 'bob'\n")
    assert status == 0, out
    # the whole file per item, as Ansible runs an include in a loop (not each task's loop)
    assert _log(tmp_path) == ["ann-0-a", "ann-0-b", "ann-2-a", "ann-2-b"]
    assert "first (ann #3)" in out and "skipped     task second (bob)" in out


def test_a_looped_include_over_a_list_only_hosts_know_is_refused(tmp_path: Path) -> None:
    (tmp_path / "each.yml").write_text("- name: t\n  command: 'true'\n")
    (tmp_path / "play.yml").write_text("- name: p\n  hosts: all\n  tasks:\n"
                                       "    - include_tasks: each.yml\n"
                                       "      loop: \"{{ host_sites }}\"\n")
    with pytest.raises(InputError, match="cannot be expanded when the playbook loads") as error:
        load_playbook(tmp_path / "play.yml")
    assert error.value.location is not None and error.value.location.line == 5
    assert "put the loop on the included tasks" in error.value.message


def test_register_on_an_include_is_refused_naming_where_to_put_it(tmp_path: Path) -> None:
    (tmp_path / "each.yml").write_text("- name: t\n  command: 'true'\n")
    (tmp_path / "play.yml").write_text("- name: p\n  hosts: all\n  tasks:\n"
                                       "    - include_tasks: each.yml\n      register: r\n")
    with pytest.raises(InputError, match="put 'register' on the tasks inside"):
        load_playbook(tmp_path / "play.yml")


def test_a_loop_on_a_block_or_an_import_stays_refused(tmp_path: Path) -> None:
    (tmp_path / "each.yml").write_text("- name: t\n  command: 'true'\n")
    for entry in ("- import_tasks: each.yml\n      with_items: [a]\n",
                  "- block:\n        - {name: t, command: 'true'}\n      with_items: [a]\n"):
        (tmp_path / "play.yml").write_text(f"- name: p\n  hosts: all\n  tasks:\n    {entry}")
        with pytest.raises(InputError, match="'with_items' cannot be set on"):
            load_playbook(tmp_path / "play.yml")


FLUSHES = ("- name: p\n  hosts: h1\n  pre_tasks:\n{pre}  tasks:\n{tasks}  post_tasks:\n{post}"
           "  handlers:\n    - name: h\n      shell: echo handler >> {{{{ playbook_dir }}}}/log\n")


def _notifying(name: str) -> str:
    return (f"    - name: {name}\n      shell: echo {name} >> {{{{ playbook_dir }}}}/log\n"
            "      notify: h\n")


def test_handlers_flush_after_pre_tasks_after_tasks_and_after_post_tasks(
        tmp_path: Path) -> None:
    status, out = _run(tmp_path, FLUSHES.format(pre=_notifying("pre"), tasks=_notifying("task"),
                                                post=_notifying("post")))
    assert status == 0, out
    # what ansible-playbook 2.19 writes for the same play (each section's notify runs the
    # handler before the next section starts)
    assert _log(tmp_path) == ["pre", "handler", "task", "handler", "post", "handler"]
    assert "ran handlers: h (changed)" in out


def test_a_flush_with_no_handler_notified_is_not_shown_or_counted(tmp_path: Path) -> None:
    quiet = "    - name: {0}\n      command: 'true'\n      changed_when: false\n"
    status, out = _run(tmp_path, FLUSHES.format(pre=quiet.format("pre"), tasks=quiet.format(
        "task"), post=quiet.format("post")))
    assert status == 0, out
    assert "handlers notified in" not in out
    assert out.splitlines()[-2].split() == ["h1", "3", "0", "0", "0", "0", "0", "0"]


def test_the_flushes_stand_between_the_sections_in_the_plan(tmp_path: Path) -> None:
    (tmp_path / "play.yml").write_text(FLUSHES.format(
        pre=_notifying("pre"), tasks=_notifying("task"), post=_notifying("post")))
    steps = load_playbook(tmp_path / "play.yml").plays[0].steps
    assert [step.name for step in steps] == [
        "pre", "(handlers notified in pre_tasks)", "task", "(handlers notified in tasks)",
        "post", "h"]
    assert all("always" in step.tags for step in steps if step.name.startswith("("))
    _, listed = _run(tmp_path, (tmp_path / "play.yml").read_text(), "--list-tasks")
    assert "pre" in listed and "(handlers" not in listed  # nor does ansible-playbook list them


def test_a_play_without_handlers_gets_no_flush_steps() -> None:
    # pre_tasks, a role without handlers, tasks and post_tasks
    assert not any(name.startswith("(handlers") for name in _task_names(
        CORPUS / "pre_post_order.yml"))


def test_tags_that_select_one_section_still_flush_before_the_next(tmp_path: Path) -> None:
    playbook = FLUSHES.format(pre=_notifying("pre") + "      tags: [pick]\n",
                              tasks=_notifying("task"),
                              post=_notifying("post") + "      tags: [pick]\n")
    # (the handler is tagged too: play leaves out a handler that --tags does not select)
    status, out = _run(tmp_path, playbook.replace("- name: h\n", "- name: h\n      tags: [pick]\n"),
                       "-t", "pick")
    assert status == 0, out
    assert _log(tmp_path) == ["pre", "handler", "post", "handler"]
