"""The Ansible-style corpus (tests/data/ansible/: playbooks and five roles in the standard
layout, written the way Ansible users write them): each one loads with `play graph`
(exit 0), or is refused with exit 4 and a hint that says what to write instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.cli import main

CORPUS = Path(__file__).parent.parent / "data" / "ansible"
HOSTS = str(CORPUS / "hosts.yml")

LOADS = {
    "app_deploy.yml", "become_user.yml", "block_always.yml", "block_rescue.yml",
    "block_tags.yml", "block_when_become.yml", "bootstrap_like.yml", "delegate_inventory.yml",
    "delegate_localhost.yml", "docker_hosts.yml", "environment.yml", "full_stack.yml",
    "gather_facts.yml",
    "handlers_listen.yml", "import_role.yml", "import_tasks.yml",
    "include_role_tasks_from.yml", "include_tasks_extra_var.yml",
    "include_tasks_loop.yml", "include_tasks_templated.yml", "include_tasks_when.yml",
    "nested_blocks.yml",
    "nginx_site.yml", "pre_post_order.yml", "role_handler_notify.yml", "role_precedence.yml",
    "role_twice.yml", "role_twice_params.yml", "roles_path.yml", "rolling_web.yml",
    "site.yml", "sshd_hardening.yml", "users.yml", "with_items.yml",
    # the actions and names of issue 19 (branch ansible-actions)
    "apt.yml", "debug_set_fact.yml", "fqcn.yml", "lineinfile.yml", "meta_flush.yml",
    "service_module.yml",
}

# refused for good, with the hint the user reads
REFUSED = {
    "block_loop.yml": "'loop' cannot be set on a block",
    "block_register.yml": "'register' cannot be set on a block",
    "collection_role.yml": "is in a collection, which play does not install; put the "
                           "role's folder under roles/",
    "docker_container.yml": "'community.docker.docker_container' is not a task in play: a "
                            "container is desired state",
    "delegate_unknown.yml": "is delegated to 'lb9', which is not a host of the inventory",
    "facts_without_gathering.yml": "it is a fact: set 'gather_facts: true' on the play",
    "handler_rescue.yml": "a handler's block cannot have rescue or always",
    "include_cycle.yml": "tasks files include each other in a cycle: loop_a.yml -> "
                         "loop_b.yml -> loop_a.yml",
    "include_missing.yml": "no such tasks file 'tasks/nothere.yml'",
    "include_tasks_runtime.yml": "cannot be expanded when the playbook loads",
    "include_tasks_register.yml": "put 'register' on the tasks inside",
    "notify_unknown.yml": "notifies 'restart everything', which is neither a handler",
    "role_not_found.yml": "role 'nginxx' not found",
}

ROLES = ("nginx", "users", "sshd_hardening", "docker_install", "app_deploy")


def playbooks() -> list[str]:
    return sorted(path.name for path in CORPUS.glob("*.yml") if path.name != "hosts.yml")


def graph(name: str, capsys: pytest.CaptureFixture[str],
          monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    monkeypatch.setenv("PLAY_ROLES_PATH", str(CORPUS / "shared_roles"))
    status = main(["graph", str(CORPUS / name), "-i", HOSTS])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_the_corpus_has_40_playbooks_and_5_roles_each_classified() -> None:
    assert len(playbooks()) >= 40
    assert set(playbooks()) == LOADS | set(REFUSED)
    for role in ROLES:
        folder = CORPUS / "roles" / role
        assert (folder / "tasks" / "main.yml").is_file()
        assert (folder / "meta" / "main.yml").is_file()
        assert (folder / "defaults" / "main.yml").is_file()


@pytest.mark.parametrize("name", sorted(LOADS))
def test_corpus_playbook_loads_with_play_graph(name: str, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    status, out, err = graph(name, capsys, monkeypatch)
    assert status == 0, err
    assert re.search(r"\d+ steps? on \d+ hosts?", out), out


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_corpus_playbook_is_refused_with_a_hint(name: str, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    status, _, err = graph(name, capsys, monkeypatch)
    assert status == 4
    assert REFUSED[name] in err
    assert "Traceback" not in err
