"""How a host is reached: inventory vars over ~/.ssh/config over defaults."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.connection import command_line, settings_for
from engine.errors import InputError
from engine.inventory import load_inventory


def host(tmp_path: Path, inventory: str, ssh_config: str = "") -> object:
    (tmp_path / "hosts.ini").write_text(inventory)
    (tmp_path / "ssh_config").write_text(ssh_config)
    return load_inventory([tmp_path / "hosts.ini"]).hosts["web1"]


def test_ssh_config_gives_address_user_port_and_key(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAY_SSH_CONFIG", str(tmp_path / "ssh_config"))
    web1 = host(tmp_path, "[web]\nweb1\n",
                "Host web1\n  HostName 127.0.0.9\n  User ops\n  Port 2200\n"
                "  IdentityFile ~/.ssh/ops\n  ProxyJump jump@127.0.0.8:2222\n")
    settings = settings_for(web1)  # type: ignore[arg-type]
    assert (settings.endpoint.address, settings.endpoint.port, settings.endpoint.user) == (
        "127.0.0.9", 2200, "ops")
    assert settings.key_files[0].endswith("/.ssh/ops")
    assert [(jump.address, jump.port, jump.user) for jump in settings.jumps] == [
        ("127.0.0.8", 2222, "jump")]


def test_inventory_vars_win_over_ssh_config(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAY_SSH_CONFIG", str(tmp_path / "ssh_config"))
    web1 = host(tmp_path, "[web]\nweb1 address=127.0.0.5 port=2201 user=deploy\n",
                "Host *\n  User ops\n  Port 2200\n")
    settings = settings_for(web1)  # type: ignore[arg-type]
    assert (settings.endpoint.address, settings.endpoint.port, settings.endpoint.user) == (
        "127.0.0.5", 2201, "deploy")


def test_ssh_config_match_exec_runs_its_command(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # paramiko runs `Match exec` through invoke, which play imports only on first use
    monkeypatch.setenv("PLAY_SSH_CONFIG", str(tmp_path / "ssh_config"))
    web1 = host(tmp_path, "[web]\nweb1\n",
                'Match exec "true"\n  User ops\nMatch exec "false"\n  Port 2200\n')
    with open(os.devnull, encoding="utf-8") as devnull:
        # invoke copies stdin to the command; pytest's captured stdin cannot be read
        monkeypatch.setattr("sys.stdin", devnull)
        settings = settings_for(web1)  # type: ignore[arg-type]
    assert (settings.endpoint.user, settings.endpoint.port) == ("ops", 22)


def test_bad_policy_and_timeout_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="host_key_policy must be one of strict, accept-new"):
        settings_for(host(tmp_path, "[web]\nweb1 host_key_policy=yolo\n"))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="connect_timeout must be a positive number"):
        settings_for(host(tmp_path, "[web]\nweb1 connect_timeout=-1\n"))  # type: ignore[arg-type]


def test_command_line_quotes_every_argument_and_becomes_with_sudo() -> None:
    line = command_line(["echo", "a b", "$(x)", "';'"], become=False)
    assert line == "echo 'a b' '$(x)' ''\"'\"';'\"'\"''"
    assert command_line(["id"], become=True).startswith("sudo --preserve-env=DOCKER_HOST -n -- ")


def test_each_fabric_connection_keeps_its_own_settings_out_of_the_shared_config(
        tmp_path: Path) -> None:
    # invoke turns setting an attribute its class lacks into a config write, and the
    # run's connections share one config: one host read another's settings, and hosts
    # opened at once failed with "No attribute or config key found for 'settings'"
    from engine.connection.ssh import _HostConnection

    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    (tmp_path / "hosts.ini").write_text(
        f"a address=127.0.0.9 known_hosts={known_hosts}\n"
        f"b address=127.0.0.10 known_hosts={known_hosts}\n")
    inventory = load_inventory([tmp_path / "hosts.ini"])
    made = []
    for name in ("a", "b"):
        settings = settings_for(inventory.hosts[name])
        made.append((_HostConnection(settings, settings.endpoint, None), settings))
    for connection, settings in made:
        assert connection.settings is settings
    assert "settings" not in made[0][0].config and "key_name" not in made[0][0].config


# --- Ansible's spellings ---------------------------------------------------------------------


def test_old_ansible_ssh_spellings_are_read(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAY_SSH_CONFIG", str(tmp_path / "ssh_config"))
    web1 = host(tmp_path, "[web]\nweb1 ansible_ssh_host=127.0.0.7 ansible_ssh_user=ops "
                "ansible_ssh_port=2202\n")
    settings = settings_for(web1)  # type: ignore[arg-type]
    assert (settings.endpoint.address, settings.endpoint.port, settings.endpoint.user) == (
        "127.0.0.7", 2202, "ops")


def test_ansible_host_wins_over_the_old_ansible_ssh_host(tmp_path: Path) -> None:
    web1 = host(tmp_path, "[web]\nweb1 ansible_ssh_host=127.0.0.7 ansible_host=127.0.0.8\n")
    assert web1.address == "127.0.0.8"  # type: ignore[attr-defined]


def test_ssh_args_options_map_to_settings(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAY_SSH_CONFIG", str(tmp_path / "ssh_config"))
    web1 = host(tmp_path, "[web]\nweb1\n[web:vars]\n"
                "ansible_ssh_common_args='-o UserKnownHostsFile=keys/known -oPort=2203 "
                "-o \"ProxyJump jump@127.0.0.8:2222\" -o StrictHostKeyChecking=accept-new'\n"
                "ansible_ssh_extra_args='-o IdentityFile=~/.ssh/lab -o User=ops'\n",
                "Host *\n  Port 2200\n  User nobody\n")
    settings = settings_for(web1)  # type: ignore[arg-type]
    assert settings.known_hosts == str(tmp_path / "keys" / "known")
    assert (settings.endpoint.port, settings.endpoint.user) == (2203, "ops")
    assert settings.key_files == (os.path.expanduser("~/.ssh/lab"),)
    assert [(jump.address, jump.port, jump.user) for jump in settings.jumps] == [
        ("127.0.0.8", 2222, "jump")]
    assert settings.host_key_policy == "accept-new"


def test_proxy_command_in_ssh_args_is_used(tmp_path: Path) -> None:
    web1 = host(tmp_path, "[web]\nweb1 ansible_ssh_common_args='-o ProxyCommand=\"nc %h %p\"'\n")
    assert settings_for(web1).proxy_command == "nc %h %p"  # type: ignore[arg-type]


def test_inventory_vars_win_over_ssh_args(tmp_path: Path) -> None:
    web1 = host(tmp_path, "[web]\nweb1 port=2201 ansible_ssh_extra_args='-o Port=2203'\n")
    assert settings_for(web1).endpoint.port == 2201  # type: ignore[arg-type]


def test_strict_host_key_checking_no_is_refused_naming_accept_new(tmp_path: Path) -> None:
    (tmp_path / "hosts.ini").write_text(
        "[web]\nweb1\n[all:vars]\nansible_ssh_common_args='-o StrictHostKeyChecking=no'\n")
    with pytest.raises(InputError) as caught:
        load_inventory([tmp_path / "hosts.ini"])
    assert str(caught.value) == (
        f"{tmp_path / 'hosts.ini'}:4: host 'web1': ansible_ssh_common_args: "
        "StrictHostKeyChecking=no would accept any host key, so play refuses it; to trust a "
        "new host's key on first contact set `host_key_policy: accept-new` (a changed key "
        "still stops the host)")


def test_ssh_args_play_does_not_read_are_warned(tmp_path: Path) -> None:
    (tmp_path / "hosts.ini").write_text(
        "[web]\nweb1 ansible_ssh_common_args='-o ControlMaster=auto -C'\n")
    inventory = load_inventory([tmp_path / "hosts.ini"])
    where = f"{tmp_path / 'hosts.ini'}:2"
    assert inventory.warnings == (
        f"{where}: host 'web1': ansible_ssh_common_args: the SSH option ControlMaster is not "
        "read by play; it reads UserKnownHostsFile, IdentityFile, Port, ProxyJump, "
        "ProxyCommand, User, StrictHostKeyChecking=accept-new|yes",
        f"{where}: host 'web1': ansible_ssh_common_args: '-C' is not read by play (only -o "
        "options: UserKnownHostsFile, IdentityFile, Port, ProxyJump, ProxyCommand, User, "
        "StrictHostKeyChecking=accept-new|yes)")


def test_bad_port_in_ssh_args_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "hosts.ini").write_text("[web]\nweb1 ansible_ssh_extra_args='-o Port=99999'\n")
    with pytest.raises(InputError, match="-o Port=99999 is not a TCP port"):
        load_inventory([tmp_path / "hosts.ini"])


@pytest.mark.parametrize("spelling", ["ansible_password", "ansible_ssh_pass"])
def test_password_login_and_become_user_are_read(tmp_path: Path, spelling: str) -> None:
    web1 = host(tmp_path, f"[web]\nweb1 {spelling}=s3cret ansible_become_user=app "
                "ansible_become_pass=sudopw\n")
    settings = settings_for(web1)  # type: ignore[arg-type]
    assert (settings.ssh_password, settings.become_user, settings.become_password) == (
        "s3cret", "app", "sudopw")


def test_password_is_given_to_the_host_and_never_to_a_jump_host(tmp_path: Path) -> None:
    from engine.connection import ssh

    web1 = host(tmp_path, "[web]\nweb1 ansible_password=s3cret ssh_gateway=jump@127.0.0.8\n")
    settings = settings_for(web1)  # type: ignore[arg-type]
    target = ssh._HostConnection(settings, settings.endpoint, None)
    hop = ssh._HostConnection(settings, settings.jumps[0], None)
    assert target.connect_kwargs["password"] == "s3cret"
    assert "password" not in hop.connect_kwargs


def test_login_password_is_a_secret_in_output() -> None:
    from engine.output.redaction import secret_values

    assert secret_values({"ansible_ssh_pass": "s3cret", "ssh_password": "other"}) == {
        "s3cret", "other"}
