"""Playbooks written the way Ansible users write them: FQCN module names resolve to play's
actions, apt/dnf/yum are `package`, and what play lacks is refused with what to write
instead, never a misleading did-you-mean. A docker_container or docker_compose_v2 task is
refused with a `containers:` entry that loads as it is printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.actions.catalog import CATALOG, action_name
from engine.errors import InputError
from engine.playbook import ContainerSpec, TaskSpec, load_playbook

ANSIBLE = Path(__file__).parent.parent / "data" / "from_docker"


def _load(tmp_path: Path, tasks: str) -> list[TaskSpec]:
    path = tmp_path / "play.yml"
    path.write_text(f"- name: p\n  hosts: all\n  tasks:\n{tasks}")
    return [step.body for step in load_playbook(path).plays[0].steps
            if isinstance(step.body, TaskSpec)]


def _refusal(tmp_path: Path, tasks: str) -> str:
    with pytest.raises(InputError) as caught:
        _load(tmp_path, tasks)
    return str(caught.value)


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_action_answers_to_its_builtin_and_legacy_names(name: str) -> None:
    assert action_name(name) == name
    assert action_name(f"ansible.builtin.{name}") == name
    assert action_name(f"ansible.legacy.{name}") == name


def test_collection_names_and_unknown_names() -> None:
    assert action_name("ansible.posix.authorized_key") == "authorized_key"
    assert action_name("community.docker.docker_image") == "docker_image"
    assert action_name("ansible.builtin.nope") is None
    assert action_name("ansible.builtin.") is None


def test_fqcn_tasks_load_as_the_plain_action(tmp_path: Path) -> None:
    tasks = _load(tmp_path, "    - name: a\n      ansible.builtin.shell: echo hi\n"
                            "    - name: b\n      ansible.legacy.copy: {content: x, dest: /x}\n")
    assert [(task.action, task.args) for task in tasks] == [
        ("shell", "echo hi"), ("copy", {"content": "x", "dest": "/x"})]


def test_a_second_action_written_as_fqcn_is_still_two_actions(tmp_path: Path) -> None:
    message = _refusal(tmp_path, "    - name: a\n      shell: 'true'\n"
                                 "      ansible.builtin.command: 'true'\n")
    assert "must have exactly one action" in message and "ansible.builtin.command" in message


@pytest.mark.parametrize("module", ["apt", "ansible.builtin.apt", "dnf", "yum"])
def test_apt_dnf_and_yum_run_as_package(tmp_path: Path, module: str) -> None:
    tasks = _load(tmp_path, f"    - name: a\n      {module}: {{name: curl, state: latest, "
                            "update_cache: true}\n")
    assert CATALOG[tasks[0].action].module == "engine.actions.package"


def test_apt_takes_cache_valid_time_and_a_cache_refresh_alone(tmp_path: Path) -> None:
    tasks = _load(tmp_path, "    - name: a\n      apt: {update_cache: true, "
                            "cache_valid_time: 3600}\n")
    assert tasks[0].args == {"update_cache": True, "cache_valid_time": 3600}


@pytest.mark.parametrize(("task", "expected"), [
    ("fail: {msg: stop}", None),          # an action now, not "did you mean 'file'?"
    ("get_url: {url: u, dest: d}", "play has no 'get_url' action: use `command: curl"),
    ("ansible.builtin.unarchive: {src: a, dest: b}", "use `command: tar -xf"),
    ("docker_network: {name: n}", "host networking"),
    ("command: 'true'\n      async: 60", "use `timeout:`"),
])
def test_ansible_names_get_a_hint_not_a_fuzzy_suggestion(tmp_path: Path, task: str,
                                                         expected: str | None) -> None:
    tasks = f"    - name: a\n      {task}\n"
    if expected is None:
        assert _load(tmp_path, tasks)[0].action == "fail"
        return
    message = _refusal(tmp_path, tasks)
    assert expected in message and "docs/coming-from-ansible.md" in message
    assert "did you mean" not in message


def test_docker_container_is_refused_with_a_containers_entry_that_loads(tmp_path: Path) -> None:
    source = ANSIBLE / "docker_container.yml"
    with pytest.raises(InputError) as caught:
        load_playbook(source)
    message = str(caught.value)
    assert message.startswith(f"{source}:6: 'community.docker.docker_container' is not a task")
    assert "not carried over (play has no equivalent): privileged" in message
    entry = message.split("Replace the task with this entry:\n", 1)[1].split("not carried", 1)[0]
    pasted = tmp_path / "pasted.yml"
    pasted.write_text(f"- name: web tier\n  hosts: web\n{entry}")
    spec = load_playbook(pasted).plays[0].steps[0]
    assert spec.name == "web" and spec.tags == frozenset({"web"})
    body = spec.body
    assert isinstance(body, ContainerSpec)
    assert (body.image, body.pull, body.restart, body.network) == (
        "registry.lab:5000/web:{{ web_version }}", "always", "on-failure:3", "host")
    assert (body.command, body.env, body.ports, body.volumes) == (
        ("httpd", "-f", "-p", "8080"), {"APP_ENV": "prod"}, ("8080:8080",),
        ("/srv/web:/etc/web:ro",))
    assert (body.labels, body.memory, body.cpus, body.workdir) == (
        {"team": "core"}, "256m", 0.5, "/srv")
    assert body.healthcheck is not None
    assert body.healthcheck.cmd == "wget -qO- http://127.0.0.1:8080/ || exit 1"
    assert (body.healthcheck.interval, body.healthcheck.retries) == (5.0, 10)


def test_docker_compose_v2_project_is_refused_with_an_entry_per_service(
        tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_playbook(ANSIBLE / "compose.yml")
    message = str(caught.value)
    assert "not carried over (play has no equivalent): api.cap_add" in message
    entries = message.split("Replace the task with these entries:\n", 1)[1].split(
        "not carried", 1)[0]
    pasted = tmp_path / "pasted.yml"
    pasted.write_text(f"- name: app\n  hosts: app\n{entries}")
    steps = {step.name: step.body for step in load_playbook(pasted).plays[0].steps}
    db, api = steps["db"], steps["api"]
    assert isinstance(db, ContainerSpec) and isinstance(api, ContainerSpec)
    assert db.env == {"POSTGRES_PASSWORD": "example"} and db.restart == "unless-stopped"
    assert api.depends_on == ("db",) and api.memory == "512m" and api.workdir == "/app"
    assert api.healthcheck is not None
    assert api.healthcheck.cmd == ("wget", "-qO-", "http://127.0.0.1:8080/")


def test_docker_compose_v2_without_a_readable_project_says_how_to_convert(
        tmp_path: Path) -> None:
    message = _refusal(tmp_path, "    - name: s\n      docker_compose_v2: "
                                 "{project_src: '{{ dir }}'}\n")
    assert "play reads no compose files" in message and "environment -> env" in message
