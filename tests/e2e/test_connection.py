"""The connection layer on the lab: every command through `fabric.Connection`, become's
password sent only when sudo asks, jump hosts in OpenSSH's order, known_hosts markers,
key file modes and atomic, private file writes."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from lab_client import E2E_DATA, ROOT, Lab, json_events, play, recording_cat

from engine.connection.local import LocalConnection

pytestmark = pytest.mark.lab


def _inventory(lab: Lab, tmp_path: Path, **group_vars: object) -> Path:
    document = yaml.safe_load(lab.inventory.read_text())
    document["all"]["children"]["lab"]["vars"].update(group_vars)
    inventory = tmp_path / f"hosts-{uuid.uuid4().hex[:6]}.yml"
    inventory.write_text(yaml.safe_dump(document))
    return inventory


# Counts the calls of fabric.Connection.run/sudo inside one real `play` process.
FABRIC_PROBE = """
import json, sys
import fabric
calls = {"run": 0, "sudo": 0}
def counting(name):
    original = getattr(fabric.Connection, name)
    def wrapper(self, *args, **kwargs):
        calls[name] += 1
        return original(self, *args, **kwargs)
    return wrapper
fabric.Connection.run = counting("run")
fabric.Connection.sudo = counting("sudo")
from engine.cli import main
status = main(sys.argv[1:])
print(json.dumps({"status": status, "calls": calls}))
"""


def test_every_command_of_a_run_goes_through_fabric_connection(lab: Lab) -> None:
    result = subprocess.run(
        [sys.executable, "-c", FABRIC_PROBE, str(E2E_DATA / "remote_commands.yml"),
         "-i", str(lab.inventory), "--json"],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    lines = result.stdout.splitlines()
    probe = json.loads(lines[-1])
    assert probe["status"] == 0, result.stdout + result.stderr
    recap = next(event for event in json_events("\n".join(lines[:-1]))
                 if event["event"] == "recap")
    commands = sum(recap["commands"].values())  # type: ignore[attr-defined]
    assert commands >= 9  # three tasks on three hosts
    assert probe["calls"]["run"] + probe["calls"]["sudo"] == commands


def _run_become_playbook(lab: Lab, srv_dir: str, tmp_path: Path, password: str) -> None:
    """become.yml with this become password: it succeeds, never shows the password, and on
    every host the commands ran as root and read an empty stdin."""
    inventory = _inventory(lab, tmp_path, become_password=password)
    result = play(str(E2E_DATA / "become.yml"), "-i", str(inventory), "-e", f"dir={srv_dir}",
                  "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert password not in result.stdout + result.stderr
    for host in lab.hosts:
        assert lab.run(host, "cat", f"{srv_dir}/seen").stdout == "0 got:\n"


def test_a_become_password_is_never_read_by_the_command_when_sudo_does_not_ask(
        lab: Lab, srv_dir: str, tmp_path: Path) -> None:
    # the lab's deploy user may sudo without a password: sudo never asks
    password = f"pw-{uuid.uuid4().hex}"
    _run_become_playbook(lab, srv_dir, tmp_path, password)
    for host in lab.hosts:
        copied = lab.sh(host, f"sudo -n cat {srv_dir}/copied; sudo -n stat -c %a "
                              f"{srv_dir}/copied")
        assert copied.stdout == "line one\nline two\n640\n"


@pytest.fixture
def sudo_asks(lab: Lab) -> Iterator[str]:
    """Lab hosts where deploy's sudo asks for a password, every time: yields the password."""
    password = f"pw-{uuid.uuid4().hex}"
    rule = "Defaults:deploy timestamp_timeout=0\ndeploy ALL=(ALL) PASSWD: ALL\n"
    # sudoers.d files are read in name order, the last match wins: this comes after
    # the lab's NOPASSWD rule (`play-lab`); the hosts may share one /etc or not
    install = (f"printf %s {shlex.quote(rule)} > /etc/sudoers.d/.play-lab-zz-e2e && "
               "visudo -cf /etc/sudoers.d/.play-lab-zz-e2e && "
               "mv /etc/sudoers.d/.play-lab-zz-e2e /etc/sudoers.d/play-lab-zz-e2e && "
               f"echo deploy:{shlex.quote(password)} | chpasswd")
    try:
        for host in lab.hosts:
            if lab.sh(host, "sudo -n true").returncode != 0:
                continue  # already asks: this host shares another one's /etc
            done = lab.sh(host, f"sudo -n sh -c {shlex.quote(install)}")
            assert done.returncode == 0, done.stderr
        yield password
    finally:
        undo = "rm -f /etc/sudoers.d/play-lab-zz-e2e; usermod --password '*' deploy"
        for host in lab.hosts:
            lab.sh(host, f"echo {shlex.quote(password)} | sudo -S -p '' sh -c "
                         f"{shlex.quote(undo)}")


def test_the_become_password_answers_sudos_prompt_and_only_it(
        lab: Lab, srv_dir: str, tmp_path: Path, sudo_asks: str) -> None:
    host = lab.host("lab1")
    asked = lab.sh(host, "sudo -n true")
    assert asked.returncode != 0, "sudo should ask for a password now"
    _run_become_playbook(lab, srv_dir, tmp_path, sudo_asks)
    for machine in lab.hosts:
        copied = lab.sh(machine, f"echo {shlex.quote(sudo_asks)} | sudo -S -p '' "
                                 f"cat {srv_dir}/copied")
        assert copied.stdout == "line one\nline two\n"


def test_a_wrong_become_password_fails_the_step_without_hanging_or_printing_it(
        lab: Lab, srv_dir: str, tmp_path: Path, sudo_asks: str) -> None:
    wrong = f"wrong-{uuid.uuid4().hex}"
    inventory = _inventory(lab, tmp_path, become_password=wrong)
    result = play(str(E2E_DATA / "become.yml"), "-i", str(inventory), "-e", f"dir={srv_dir}",
                  "-l", "lab1", timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "sudo refused the become password" in result.stdout
    assert wrong not in result.stdout + result.stderr
    assert sudo_asks not in result.stdout + result.stderr


def test_proxy_jump_hops_are_visited_in_openssh_order(lab: Lab, srv_dir: str,
                                                    tmp_path: Path) -> None:
    lab1, lab2, lab3 = (lab.host(name) for name in ("lab1", "lab2", "lab3"))
    playbook = tmp_path / "client.yml"
    playbook.write_text(
        "- name: where from\n  hosts: lab3\n  tasks:\n"
        "    - name: client\n"
        f"      shell: 'mkdir -p {srv_dir} && echo \"$SSH_CLIENT\" > {srv_dir}/client'\n")
    for hops, last in ((f"deploy@{lab1.address},deploy@{lab2.address}", lab2),
                       (f"deploy@{lab2.address},deploy@{lab1.address}", lab1)):
        document = yaml.safe_load(lab.inventory.read_text())
        document["all"]["children"]["lab"]["hosts"]["lab3"]["ssh_gateway"] = hops
        inventory = tmp_path / "hosts.yml"
        inventory.write_text(yaml.safe_dump(document))
        result = play(str(playbook), "-i", str(inventory))
        assert result.returncode == 0, result.stdout + result.stderr
        # lab3's sshd sees the session come from the last hop: lab1, lab2 means
        # control -> lab1 -> lab2 -> lab3
        client = lab.run(lab3, "cat", f"{srv_dir}/client").stdout.split()
        assert client[0] == last.address, (hops, client)


def _known_hosts_inventory(lab: Lab, tmp_path: Path, known_hosts: str) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text(known_hosts)
    return _inventory(lab, tmp_path, known_hosts=str(path))


def test_a_revoked_host_key_stops_that_host_and_a_ca_line_is_refused_clearly(
        lab: Lab, tmp_path: Path) -> None:
    lines = lab.known_hosts.read_text().splitlines()
    lab2_key = next(line for line in lines if line.startswith("10.250.0.12 "))
    revoked = "\n".join([*lines, f"@revoked {lab2_key}"]) + "\n"
    result = play(str(E2E_DATA / "remote_commands.yml"), "-i",
                  str(_known_hosts_inventory(lab, tmp_path, revoked)), timeout=60)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "REVOKED" in result.stdout and "lab1" in result.stdout

    authority = "\n".join([*lines, "@cert-authority 10.250.0.13 " + " ".join(
        lab2_key.split()[1:])]) + "\n"
    result = play(str(E2E_DATA / "remote_commands.yml"), "-i",
                  str(_known_hosts_inventory(lab, tmp_path, authority)), timeout=60)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "@cert-authority" in result.stdout and "cannot check host certificates" in (
        result.stdout)


def test_a_private_key_readable_by_others_is_refused_before_the_run(
        lab: Lab, tmp_path: Path) -> None:
    key = tmp_path / "id_open"
    key.write_bytes(lab.key.read_bytes())
    key.chmod(0o644)
    result = play(str(E2E_DATA / "remote_commands.yml"), "-i",
                  str(_inventory(lab, tmp_path, ssh_key=str(key))), timeout=60)
    assert result.returncode == 4, result.stdout + result.stderr
    assert "readable by others" in result.stderr + result.stdout
    assert f"chmod 600 {key}" in result.stderr + result.stdout


def test_accept_new_creates_the_known_hosts_folder_private(lab: Lab, tmp_path: Path) -> None:
    known_hosts = tmp_path / "fresh" / "known_hosts"
    inventory = _inventory(lab, tmp_path, known_hosts=str(known_hosts),
                           host_key_policy="accept-new")
    result = play(str(E2E_DATA / "remote_commands.yml"), "-i", str(inventory), timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert stat.S_IMODE(known_hosts.parent.stat().st_mode) == 0o700
    assert len(known_hosts.read_text().splitlines()) == 3


def test_put_writes_through_a_private_random_temp_file_and_keeps_a_link_targets_mode(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a `cat` that records the mode and name of the file it writes, then writes it
    record = tmp_path / "seen"
    fake = recording_cat(tmp_path / "bin", record)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    folder = tmp_path / "etc"
    folder.mkdir()
    target = folder / "real.conf"
    target.write_text("old\n")
    target.chmod(0o640)
    link = folder / "site.conf"
    link.symlink_to(target)
    connection = LocalConnection("control")
    previous_umask = os.umask(0o022)
    try:
        _check_put(connection, record, folder, link)
    finally:
        os.umask(previous_umask)


def _check_put(connection: LocalConnection, record: Path, folder: Path, link: Path) -> None:
    written = connection.put(b"secret\n", str(link))
    assert written.is_ok, written.stderr
    mode_while_writing, name = record.read_text().split()
    assert mode_while_writing == "600"
    assert Path(name).name.startswith(".play-tmp.") and len(Path(name).name) > 16
    assert stat.S_IMODE(link.stat().st_mode) == 0o640  # the target's mode, not 0777
    assert link.read_text() == "secret\n"
    assert not [path for path in folder.iterdir() if path.name.startswith(".play-tmp")]

    fresh = connection.put(b"new\n", str(folder / "new.conf"))
    assert fresh.is_ok, fresh.stderr
    assert stat.S_IMODE((folder / "new.conf").stat().st_mode) == 0o644  # the umask's


def test_local_become_with_a_password_when_sudo_does_not_ask(tmp_path: Path) -> None:
    # root's sudo never asks: the password must reach neither the command nor its output
    if os.geteuid() != 0:
        pytest.fail("needs root (sudo without a prompt)", pytrace=False)
    connection = LocalConnection("control", become_password="pw-local-secret")
    read = connection.run(["/bin/sh", "-c", 'read -r line || true; printf "got:%s" "$line"'],
                          become=True)
    assert (read.exit_status, read.stdout) == (0, "got:"), read.stderr
    assert "pw-local-secret" not in read.stdout + read.stderr
    written = connection.put(b"through sudo\n", str(tmp_path / "file"), become=True)
    assert written.is_ok, written.stderr
    assert (tmp_path / "file").read_text() == "through sudo\n"
    assert "play-become" not in written.stderr


def test_a_registry_host_with_become_keeps_the_password_out_of_the_lock(
        lab: Lab, srv_dir: str, tmp_path: Path) -> None:
    # the deploy lock lives in the file registry on lab1, written through sudo; sudo does
    # not ask there, so a password written to every command's stdin became the lock's
    # owner record, which no later run could then release
    password = f"pw-{uuid.uuid4().hex}"
    inventory = _inventory(lab, tmp_path, become_password=password,
                           registry={"host": "lab1", "root": f"{srv_dir}/registry",
                                     "become": True})
    for _ in range(2):
        result = play(str(E2E_DATA / "remote_commands.yml"), "-i", str(inventory),
                      "--lock-timeout", "5", timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert password not in result.stdout + result.stderr
    stored = lab.sh(lab.host("lab1"), f"sudo -n grep -rl {shlex.quote(password)} "
                                      f"{shlex.quote(srv_dir)}/registry")
    assert stored.stdout == "", stored.stdout
