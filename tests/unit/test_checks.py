"""Undefined variables are errors before anything runs, with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.checks import check_variables
from engine.errors import InputError
from engine.inventory import load_inventory
from engine.plan import plan_run
from engine.playbook import load_playbook

PLAYBOOKS = Path(__file__).parent.parent / "data" / "playbooks"


def _check(playbook_text: str, tmp_path: Path, extra: dict[str, object] | None = None) -> None:
    (tmp_path / "templates").mkdir(exist_ok=True)
    for template in (PLAYBOOKS / "templates").iterdir():
        (tmp_path / "templates" / template.name).write_text(template.read_text())
    path = tmp_path / "play.yml"
    path.write_text(playbook_text)
    inventory = load_inventory([PLAYBOOKS / "hosts.yml"])
    check_variables(plan_run(load_playbook(path), inventory), inventory, extra or {})


def test_defined_variables_pass(tmp_path: Path) -> None:
    _check("- name: p\n  hosts: web\n  vars: {v: 1}\n  tasks:\n"
           "    - {name: a, command: 'echo {{ v }} {{ image }} {{ inventory_hostname }}'}\n",
           tmp_path)


def test_undefined_variable_is_named_with_its_step_line_and_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        _check("- name: p\n  hosts: web\n  vars: {version: 1}\n  tasks:\n"
               "    - {name: a, command: 'echo {{ verison }}'}\n", tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'play.yml'}:5: ")
    assert "undefined variable 'verison'" in message
    assert "did you mean 'version'?" in message


def test_extra_vars_define_variables(tmp_path: Path) -> None:
    _check("- name: p\n  hosts: web\n  tasks:\n    - {name: a, command: 'echo {{ x }}'}\n",
           tmp_path, {"x": "1"})


def test_undefined_variable_inside_a_template_file_points_at_its_line(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        _check("- name: p\n  hosts: web\n  vars: {version: 1}\n  tasks:\n"
               "    - {name: a, template: {src: typo.conf.j2, dest: /tmp/x}}\n", tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / 'templates' / 'typo.conf.j2'}:3: ")
    assert "'prot'" in str(caught.value)


def test_variable_whose_value_uses_an_undefined_variable_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="undefined variable 'missing'"):
        _check("- name: p\n  hosts: web\n  vars: {url: 'http://{{ missing }}'}\n  tasks:\n"
               "    - {name: a, command: 'echo {{ url }}'}\n", tmp_path)


def test_registered_loop_and_guarded_names_are_allowed(tmp_path: Path) -> None:
    _check("- name: p\n  hosts: web\n  tasks:\n"
           "    - {name: a, command: 'echo {{ item }}', loop: [1, 2], register: out}\n"
           "    - {name: b, command: 'echo {{ out.rc }}', when: 'maybe is defined'}\n"
           "    - {name: c, command: \"echo {{ other | default('x') }}\"}\n", tmp_path)


def test_template_syntax_error_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="template syntax error"):
        _check("- name: p\n  hosts: web\n  tasks:\n    - {name: a, command: 'echo {{ x '}\n",
               tmp_path)


_CONTAINER = ("- name: p\n  hosts: web1\n  containers:\n"
              "    - name: app\n      image: busybox\n      command: ['echo', '{{ big }}']\n")
_CONTAINER_ENV = _CONTAINER.replace("command: ['echo', '{{ big }}']", "env: {BIG: '{{ big }}'}")


def test_a_docker_run_line_longer_than_a_shell_takes_is_refused_at_its_line(
        tmp_path: Path) -> None:
    _check(_CONTAINER, tmp_path, {"big": "a" * 120_000})  # fits: no error
    with pytest.raises(InputError) as caught:
        _check(_CONTAINER, tmp_path, {"big": "a" * 140_000})
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'play.yml'}:4: ")
    assert "command line would be 14" in message and "at most 131071" in message


def test_quotes_count_in_the_docker_run_line(tmp_path: Path) -> None:
    # 30,000 single quotes are 150,000 bytes once quoted for the shell
    with pytest.raises(InputError, match="command line would be 15"):
        _check(_CONTAINER, tmp_path, {"big": "'" * 30_000})


def test_a_long_literal_value_is_measured_too(tmp_path: Path) -> None:
    literal = _CONTAINER.replace("'{{ big }}'", "'" + "b" * 140_000 + "'")
    with pytest.raises(InputError, match="command line would be"):
        _check(literal, tmp_path)


def test_env_values_are_not_in_the_command_line_but_must_fit_an_env_file_line(
        tmp_path: Path) -> None:
    # the env travels in an env file: 140 values of 1000 bytes make no long command line
    env_file = tmp_path / "app.env"
    env_file.write_text("".join(f"KEY{i}={'c' * 1000}\n" for i in range(140)))
    with_file = _CONTAINER_ENV.replace("env: {BIG: '{{ big }}'}", f"env_file: [{env_file}]")
    _check(with_file, tmp_path)
    _check(_CONTAINER_ENV, tmp_path, {"big": "a" * 65_531})   # BIG=... is 65,535 bytes
    with pytest.raises(InputError) as caught:
        _check(_CONTAINER_ENV, tmp_path, {"big": "a" * 65_532})
    assert str(caught.value).startswith(f"{tmp_path / 'play.yml'}:4: ")
    assert "65536 bytes as NAME=VALUE" in str(caught.value)
    env_file.write_text(f"KEY={'c' * 70_000}\n")
    with pytest.raises(InputError, match="at most 65535 per env file line"):
        _check(with_file, tmp_path)


def test_an_env_value_with_a_line_break_is_refused_before_the_run(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="holds a line break"):
        _check(_CONTAINER_ENV, tmp_path, {"big": "first\nsecond"})


def test_a_service_record_name_too_long_for_a_file_name_is_refused(tmp_path: Path) -> None:
    host = "h" * 150
    (tmp_path / "hosts.yml").write_text(f"all:\n  hosts:\n    {host}: {{address: 127.0.0.1}}\n")
    inventory = load_inventory([tmp_path / "hosts.yml"])
    service = ("- name: p\n  hosts: all\n  containers:\n    - {name: app, image: busybox}\n"
               "  services:\n    - {name: NAME, container: app, port: 80}\n")
    path = tmp_path / "play.yml"
    path.write_text(service.replace("NAME", "s" * 82))   # 82 + 1 + 150 = 233 bytes: fits
    check_variables(plan_run(load_playbook(path), inventory), inventory, {})
    path.write_text(service.replace("NAME", "s" * 83))
    with pytest.raises(InputError) as caught:
        check_variables(plan_run(load_playbook(path), inventory), inventory, {})
    assert str(caught.value).startswith(f"{path}:6: ")
    assert "would be named 234 bytes long" in str(caught.value)
    assert "shorten the service name or the host name" in str(caught.value)


@pytest.mark.parametrize("secret_name", ["db_password", "become_password"])
def test_a_refused_rendered_value_that_holds_a_secret_is_not_quoted(
        tmp_path: Path, secret_name: str) -> None:
    listed = "secret_vars: [db_password], " if secret_name == "db_password" else ""
    secret = "pw-0123456789"
    with pytest.raises(InputError) as caught:
        _check("- name: p\n  hosts: web\n"
               f"  vars: {{{listed}{secret_name}: {secret}}}\n  tasks:\n"
               "    - {name: a, copy: {content: x, dest: \"/srv/{{ %s }}{{ 'x' * 300 }}\"}}\n"
               % secret_name, tmp_path)
    message = str(caught.value)
    assert "not shown" in message and "file name of" in message
    assert "pw-0123" not in message and "xxxx" not in message


def test_a_refused_rendered_value_without_a_secret_is_still_quoted(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="'/srv/pw-0123"):
        _check("- name: p\n  hosts: web\n  vars: {name: pw-0123456789}\n  tasks:\n"
               "    - {name: a, copy: {content: x, dest: \"/srv/{{ name }}{{ 'x' * 300 }}\"}}\n",
               tmp_path)


def test_the_checks_see_each_hosts_variables_as_the_run_does(tmp_path: Path) -> None:
    # One scope builder for both (engine/variables.host_scope): a magic variable outranks an
    # inventory var of the same name in the run, so it must in the checks too (they used to
    # put it last and refused a name the run would have made valid).
    from engine.tasks import StepOptions, StepRunner

    (tmp_path / "hosts.ini").write_text(
        "[web]\nweb1 address=127.0.0.9 inventory_hostname_short='not a name!'\n")
    (tmp_path / "play.yml").write_text(
        "- name: p\n  hosts: web\n  vars: {tier: app}\n  containers:\n"
        "    - {name: '{{ inventory_hostname_short }}-{{ tier }}', image: busybox}\n")
    inventory = load_inventory([tmp_path / "hosts.ini"])
    plan = plan_run(load_playbook(tmp_path / "play.yml"), inventory)
    check_variables(plan, inventory, {"tier": "api"})
    runner = StepRunner(plan, inventory, {"tier": "api"}, None, StepOptions())  # type: ignore[arg-type]
    scope = runner.scope("web1", plan.playbook.plays[0])
    assert (scope["inventory_hostname_short"], scope["tier"]) == ("web1", "api")
