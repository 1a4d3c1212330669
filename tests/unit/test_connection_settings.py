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
