from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import InputError
from engine.playbook import ContainerSpec, ServiceSpec, TaskSpec, load_playbook


def test_valid_playbook_loads_every_kind_of_step(data_dir: Path) -> None:
    playbook = load_playbook(data_dir / "playbooks" / "valid.yml")
    database, web = playbook.plays
    assert [step.label for step in database.steps] == ["container db", "service db"]
    assert [step.label for step in web.steps] == [
        "task config dir", "task config", "task check", "handler say done", "container app",
        "service app"]
    assert web.serial == (2,)
    assert web.vars == {"version": "2"}
    check = web.steps[2]
    assert isinstance(check.body, TaskSpec)
    assert check.body.register == "check_result"
    assert check.tags == frozenset({"checks"})
    container = web.steps[4].body
    assert isinstance(container, ContainerSpec)
    assert container.depends_on == ("db",)
    assert container.pull == "missing" and container.state == "started"
    service = web.steps[5]
    assert isinstance(service.body, ServiceSpec)
    assert service.after == ("1/task/config",)


def test_template_source_is_found_in_the_templates_folder(data_dir: Path) -> None:
    playbook = load_playbook(data_dir / "playbooks" / "valid.yml")
    body = playbook.plays[1].steps[1].body
    assert isinstance(body, TaskSpec)
    assert body.args["src"] == str((data_dir / "playbooks" / "templates" / "app.conf.j2")
                                   .resolve())


def test_steps_remember_their_line(data_dir: Path) -> None:
    playbook = load_playbook(data_dir / "playbooks" / "valid.yml")
    assert playbook.plays[1].steps[1].source.line == 20


def test_shipped_demo_playbook_loads() -> None:
    demo = Path(__file__).parent.parent.parent / "playbooks" / "deploy.yml"
    playbook = load_playbook(demo)
    assert [play.name for play in playbook.plays] == ["store", "api tier", "gateway"]


def test_heal_imports_the_demo_plays_in_order() -> None:
    heal = Path(__file__).parent.parent.parent / "playbooks" / "heal.yml"
    playbook = load_playbook(heal)
    assert [play.name for play in playbook.plays] == ["store", "api tier", "gateway"]
    assert [play.index for play in playbook.plays] == [0, 1, 2]
    api = playbook.plays[1].steps_of("container")[0]
    assert api.source.file.endswith("deploy.yml")
    assert api.body.replicas == 2  # type: ignore[union-attr]


def test_playbooks_that_import_each_other_are_refused(data_dir: Path) -> None:
    with pytest.raises(InputError, match=r"b.yml:3: playbooks import each other in a cycle: "
                                         r"a.yml -> b.yml -> a.yml"):
        load_playbook(data_dir / "playbooks" / "imports" / "a.yml")


@pytest.mark.parametrize("written", ["USR2", "SIGUSR2", "usr2"])
def test_a_reload_signal_is_read_as_its_signal_name(tmp_path: Path, written: str) -> None:
    path = tmp_path / "lb.yml"
    path.write_text(f"- name: p\n  hosts: all\n  containers:\n    - name: lb\n"
                    f"      image: haproxy\n      reload_signal: {written}\n")
    container = load_playbook(path).plays[0].steps[0].body
    assert isinstance(container, ContainerSpec) and container.reload_signal == "SIGUSR2"
