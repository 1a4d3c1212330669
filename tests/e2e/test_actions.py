"""Every task action against real lab hosts over play's own SSH connection: the first run
changes the host, the second changes nothing, --check reports without touching, a failure
says why, and hostile values arrive verbatim without running anything.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import tarfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from lab_client import E2E_DATA, Lab, LabMachine, play

from engine.actions.base import ActionContext, ActionError, Outcome
from engine.actions.catalog import find_action
from engine.connection import CommandResult, Connection, open_connection, settings_for
from engine.inventory import load_inventory

pytestmark = pytest.mark.lab

TEST_USER = "play-test-user"
LAB_IMAGE = "play-lab/busybox:latest"
REGISTRY_IMAGE = "10.250.0.1:5000/busybox:latest"
# Quotes, spaces, command substitution, a separator, backticks, globs and a newline.
HOSTILE = "it's \"q\" $(touch {canary}) `touch {canary}`; touch {canary} * ?[a]\nline 2"


class Host:
    """One lab host as the tests drive it: play's connection plus the OpenSSH client."""

    def __init__(self, lab: Lab, machine: LabMachine, connection: Connection) -> None:
        self.lab, self.machine, self.connection = lab, machine, connection

    def act(self, action: str, args: Mapping[str, Any] | str, *, check: bool = False,
            diff: bool = False, become: bool = False,
            render: Callable[[str], str] = lambda path: Path(path).read_text()) -> Outcome:
        """Run an action the way the executor does: an ActionError is a failed outcome."""
        context = ActionContext(self.connection, check, diff, become, 60, render)
        try:
            return find_action(action)(args, context)  # type: ignore[arg-type]
        except ActionError as error:
            return Outcome(failed=True, msg=str(error))

    def sh(self, *argv: str) -> str:
        """Run one command through OpenSSH; it must succeed."""
        done = self.lab.run(self.machine, *argv)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def exists(self, path: str) -> bool:
        return self.lab.run(self.machine, "test", "-e", path).returncode == 0

    def stat(self, path: str) -> str:
        return self.sh("stat", "-c", "%a %U %G", path).strip()


@pytest.fixture(scope="module")
def connections(lab: Lab) -> Iterator[dict[str, Connection]]:
    inventory = load_inventory([lab.inventory])
    opened = {name: open_connection(settings_for(inventory.hosts[name])) for name in
              ("lab1", "lab3")}
    yield opened
    for connection in opened.values():
        connection.close()


@pytest.fixture
def lab1(lab: Lab, connections: dict[str, Connection]) -> Host:
    return Host(lab, lab.host("lab1"), connections["lab1"])


@pytest.fixture
def lab3(lab: Lab, connections: dict[str, Connection]) -> Host:
    return Host(lab, lab.host("lab3"), connections["lab3"])


@pytest.fixture
def workdir(lab1: Host, request: pytest.FixtureRequest) -> Iterator[str]:
    """This test's own directory under lab1's private /srv, removed afterwards."""
    path = "/srv/play-actions-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())
    fresh = lab1.lab.sh(lab1.machine, f"sudo -n rm -rf {shlex.quote(path)} && "
                                      f"mkdir -p {shlex.quote(path)}")
    assert fresh.returncode == 0, fresh.stderr
    yield path
    lab1.sh("sudo", "-n", "rm", "-rf", path)


# --- copy / template ------------------------------------------------------------------

def test_copy_writes_once_then_reports_no_change(lab1: Host, workdir: str) -> None:
    args = {"content": "port 8080\n", "dest": f"{workdir}/app.conf", "mode": "0640"}
    first = lab1.act("copy", args)
    assert first.changed and not first.failed, first.msg
    assert lab1.sh("cat", f"{workdir}/app.conf") == "port 8080\n"
    assert lab1.stat(f"{workdir}/app.conf") == "640 deploy deploy"
    assert not lab1.act("copy", args).changed


def test_copy_in_check_mode_shows_a_diff_and_leaves_the_file(lab1: Host, workdir: str) -> None:
    dest = f"{workdir}/app.conf"
    lab1.act("copy", {"content": "port 80\nname api\n", "dest": dest})
    pending = lab1.act("copy", {"content": "port 8080\nname api\n", "dest": dest, "mode": "0600"},
                       check=True, diff=True)
    assert pending.changed and pending.msg.startswith("would ")
    assert pending.diff is not None and "-port 80\n+port 8080\n" in pending.diff
    assert lab1.sh("cat", dest) == "port 80\nname api\n"
    assert lab1.stat(dest) == "644 deploy deploy"


def test_copy_of_a_local_file_into_a_directory(lab1: Host, workdir: str,
                                               tmp_path: Path) -> None:
    source = tmp_path / "motd.txt"
    source.write_bytes(b"\x00binary\xff")
    first = lab1.act("copy", {"src": str(source), "dest": workdir})
    assert first.changed, first.msg
    assert lab1.sh("sha256sum", f"{workdir}/motd.txt").split()[0] == first.facts["checksum"]
    assert not lab1.act("copy", {"src": str(source), "dest": f"{workdir}/"}).changed


def test_copy_changes_owner_with_become(lab1: Host, workdir: str) -> None:
    args = {"content": "x", "dest": f"{workdir}/owned", "owner": "root", "group": "root"}
    assert lab1.act("copy", args, become=True).changed
    assert lab1.stat(f"{workdir}/owned") == "644 root root"
    assert not lab1.act("copy", args, become=True).changed


def test_copy_into_a_missing_directory_fails_with_the_reason(lab1: Host, workdir: str) -> None:
    failed = lab1.act("copy", {"content": "x", "dest": f"{workdir}/missing/file"})
    assert failed.failed and "writing" in failed.msg and "nonexistent" in failed.msg


def test_template_renders_and_is_idempotent(lab1: Host, workdir: str) -> None:
    def render(path: str) -> str:
        return f"rendered from {Path(path).name}\n"

    args = {"src": "/templates/api.conf.j2", "dest": f"{workdir}/api.conf"}
    assert lab1.act("template", args, render=render).changed
    assert lab1.sh("cat", f"{workdir}/api.conf") == "rendered from api.conf.j2\n"
    assert not lab1.act("template", args, render=render).changed



def _world_writable_files(host: Host, folder: str) -> str:
    return host.sh("sudo", "-n", "find", folder, "!", "-type", "l", "-perm", "-o+w")


def test_copy_through_a_symlink_writes_its_target_and_keeps_link_mode_and_owner(
        lab1: Host, workdir: str) -> None:
    target, link = f"{workdir}/real.conf", f"{workdir}/app.conf"
    lab1.sh("sudo", "-n", "sh", "-c", f"echo old > {target} && chmod 0640 {target} && "
            f"chown root:root {target} && ln -s real.conf {link}")
    for action, args in (("copy", {"content": "new\n", "dest": link}),
                         ("template", {"src": "/t/app.conf.j2", "dest": link})):
        done = lab1.act(action, args, become=True, render=lambda path: "new\n")
        assert not done.failed, done.msg
        assert done.changed == (action == "copy"), done.msg
        assert lab1.sh("readlink", link).strip() == "real.conf"
        assert lab1.sh("sudo", "-n", "cat", target) == "new\n"
        assert lab1.stat(target) == "640 root root"
        assert _world_writable_files(lab1, workdir) == ""


def test_copy_through_a_dangling_symlink_creates_its_target(lab1: Host, workdir: str) -> None:
    target, link = f"{workdir}/absent.conf", f"{workdir}/app.conf"
    lab1.sh("ln", "-s", target, link)
    done = lab1.act("copy", {"content": "x\n", "dest": link})
    assert done.changed and "through link" in done.msg, done.msg
    assert lab1.sh("readlink", link).strip() == target
    assert lab1.sh("cat", target) == "x\n"
    assert _world_writable_files(lab1, workdir) == ""
    looped = f"{workdir}/loop"
    lab1.sh("ln", "-s", looped, looped)
    failed = lab1.act("copy", {"content": "x\n", "dest": looped})
    assert failed.failed and "cannot be followed" in failed.msg, failed.msg

# --- file ------------------------------------------------------------------------------

def test_file_directory_then_no_change_then_check(lab1: Host, workdir: str) -> None:
    path = f"{workdir}/conf/d"
    assert lab1.act("file", {"path": path, "state": "directory", "mode": "0750"}).changed
    assert lab1.stat(path) == "750 deploy deploy"
    assert not lab1.act("file", {"path": path, "state": "directory", "mode": "0750"}).changed
    pending = lab1.act("file", {"path": path, "state": "directory", "mode": "0700"}, check=True)
    assert pending.changed and pending.msg == "would mode 0750 -> 0700"
    assert lab1.stat(path) == "750 deploy deploy"


def test_symbolic_modes_as_ansible_takes_them(lab1: Host, workdir: str) -> None:
    path, conf = f"{workdir}/sym", f"{workdir}/sym.conf"
    args = {"path": path, "state": "directory", "mode": "u=rwx,go=rx"}
    assert lab1.act("file", args).changed
    assert lab1.stat(path) == "755 deploy deploy"
    assert not lab1.act("file", args).changed
    assert lab1.act("file", {**args, "mode": "g+w,o-rx"}).msg == "mode 0755 -> 0770"
    copied = {"content": "x\n", "dest": conf, "mode": "u=rw,g=r,o="}
    assert lab1.act("copy", copied).changed
    assert lab1.stat(conf) == "640 deploy deploy"
    assert not lab1.act("copy", copied).changed
    assert lab1.act("copy", {**copied, "content": "y\n", "mode": "g+w"}).changed
    assert lab1.stat(conf) == "660 deploy deploy"  # relative to the file's own mode


def test_file_recurse_fixes_modes_below(lab1: Host, workdir: str) -> None:
    lab1.sh("sh", "-c", f"mkdir -p {workdir}/tree/a && touch {workdir}/tree/a/f && "
                        f"chmod 600 {workdir}/tree/a/f")
    args = {"path": f"{workdir}/tree", "state": "directory", "mode": "0755", "recurse": True}
    assert lab1.act("file", args).changed
    assert lab1.stat(f"{workdir}/tree/a/f") == "755 deploy deploy"
    assert not lab1.act("file", args).changed


def test_file_touch_link_and_absent(lab1: Host, workdir: str) -> None:
    target, link = f"{workdir}/target", f"{workdir}/link"
    assert lab1.act("file", {"path": target, "state": "touch"}).changed
    assert not lab1.act("file", {"path": target, "state": "touch"}).changed
    assert lab1.act("file", {"path": link, "state": "link", "src": target}).changed
    assert lab1.sh("readlink", link).strip() == target
    assert not lab1.act("file", {"path": link, "state": "link", "src": target}).changed
    assert lab1.act("file", {"path": target, "state": "absent"}, check=True).changed
    assert lab1.exists(target)
    assert lab1.act("file", {"path": target, "state": "absent"}).changed
    assert not lab1.exists(target)
    assert not lab1.act("file", {"path": target, "state": "absent"}).changed


def test_file_state_file_on_a_missing_path_fails(lab1: Host, workdir: str) -> None:
    failed = lab1.act("file", {"path": f"{workdir}/nope", "mode": "0600"})
    assert failed.failed and "does not exist" in failed.msg
    assert not lab1.exists(f"{workdir}/nope")


# --- command / shell ----------------------------------------------------------------------

def test_command_runs_each_time_until_creates_exists(lab1: Host, workdir: str) -> None:
    marker = f"{workdir}/made"
    args = {"argv": ["touch", marker], "creates": marker}
    ran = lab1.act("command", args)
    assert ran.changed and ran.rc == 0 and lab1.exists(marker)
    again = lab1.act("command", args)
    assert again.skipped and not again.changed and "exists" in again.msg


def test_command_in_check_mode_runs_nothing(lab1: Host, workdir: str) -> None:
    skipped = lab1.act("command", f"touch {workdir}/made", check=True)
    assert skipped.skipped and skipped.msg == "skipped in check mode"
    assert not lab1.exists(f"{workdir}/made")


def test_shell_with_chdir_stdin_and_a_failure(lab1: Host, workdir: str) -> None:
    ok = lab1.act("shell", {"cmd": "pwd; cat | tr a-z A-Z", "chdir": workdir, "stdin": "hi"})
    assert ok.changed and ok.stdout == f"{workdir}\nHI"
    failed = lab1.act("shell", "echo oops >&2; exit 3")
    assert failed.failed and failed.rc == 3 and "oops" in failed.msg


def test_command_with_become_runs_as_root(lab1: Host) -> None:
    assert lab1.act("command", "id -u", become=True).stdout == "0"


# --- package -------------------------------------------------------------------------------

def test_installed_packages_are_ok(lab1: Host) -> None:
    present = lab1.act("package", {"name": ["openssh-server", "sudo"]})
    assert not present.changed and not present.failed, present.msg


def test_package_check_mode_names_what_would_be_installed(lab1: Host) -> None:
    pending = lab1.act("package", {"name": ["openssh-server", "cowsay"]}, check=True)
    assert pending.changed and pending.msg == "would install cowsay"
    status = lab1.lab.run(lab1.machine, "dpkg-query", "-W", "-f", "${db:Status-Abbrev}", "cowsay")
    assert not status.stdout.startswith("ii")


def test_package_install_without_root_fails_with_apts_reason(lab1: Host) -> None:
    failed = lab1.act("package", {"name": "cowsay"})
    assert failed.failed and "install cowsay failed" in failed.msg and "root" in failed.msg


# --- user ----------------------------------------------------------------------------------

@pytest.fixture
def test_user(lab1: Host) -> Iterator[str]:
    lab1.lab.run(lab1.machine, "sudo", "-n", "userdel", TEST_USER)
    yield TEST_USER
    lab1.lab.run(lab1.machine, "sudo", "-n", "userdel", TEST_USER)


def test_user_is_created_changed_and_removed(lab1: Host, test_user: str) -> None:
    args = {"name": test_user, "shell": "/bin/sh", "groups": ["docker"],
            "create_home": False}
    assert lab1.act("user", args, become=True).changed
    assert lab1.sh("getent", "passwd", test_user).strip().endswith(":/bin/sh")
    assert "docker" in lab1.sh("id", "-Gn", test_user).split()
    assert not lab1.act("user", args, become=True).changed
    pending = lab1.act("user", {**args, "shell": "/bin/bash"}, check=True, become=True)
    assert pending.changed and pending.msg == "would shell /bin/sh -> /bin/bash"
    assert lab1.sh("getent", "passwd", test_user).strip().endswith(":/bin/sh")
    assert lab1.act("user", {"name": test_user, "state": "absent"}, become=True).changed
    assert lab1.lab.run(lab1.machine, "getent", "passwd", test_user).returncode != 0


def test_user_change_without_root_fails(lab1: Host, test_user: str) -> None:
    failed = lab1.act("user", {"name": test_user, "create_home": False})
    assert failed.failed and "create user" in failed.msg



class RecordingConnection(Connection):
    """lab1's connection, keeping every command line the host's shell received: what
    `ps` and /proc/PID/cmdline show there while it runs."""

    def __init__(self, inner: Connection) -> None:
        self.inner, self.host, self.lines = inner, inner.host, list[str]()

    def run(self, argv: Sequence[str], *, stdin: bytes | None = None,
            timeout: float | None = None, become: bool = False,
            become_user: str | None = None) -> CommandResult:
        result = self.inner.run(argv, stdin=stdin, timeout=timeout, become=become,
                                become_user=become_user)
        self.lines.append(result.command)
        return result

    def close(self) -> None:
        return None


def test_user_password_hash_reaches_the_host_on_stdin_not_in_argv(
        lab1: Host, test_user: str) -> None:
    recorder = RecordingConnection(lab1.connection)
    host = Host(lab1.lab, lab1.machine, recorder)
    first, second = ("$6$playsalt$" + marker * 20 for marker in ("A", "B"))
    args = {"name": test_user, "create_home": False, "password": first}
    for attempt in (args, {**args, "shell": "/bin/sh", "password": second}):
        done = host.act("user", attempt, become=True)
        assert done.changed and not done.failed, done.msg
        hashed = lab1.sh("sudo", "-n", "getent", "shadow", test_user).split(":")[1]
        assert hashed == attempt["password"]
    assert not host.act("user", {**args, "password": second}, become=True).changed
    assert len(recorder.lines) >= 4
    for line in recorder.lines:
        assert first not in line and second not in line, line

# --- wait_for -----------------------------------------------------------------------------

def test_wait_for_sshd_port_and_a_path_that_appears(lab1: Host, workdir: str) -> None:
    assert not lab1.act("wait_for", {"port": 22, "host": lab1.machine.address}).failed
    lab1.sh("sh", "-c", f"(sleep 0.5; touch {workdir}/ready) >/dev/null 2>&1 &")
    appeared = lab1.act("wait_for", {"path": f"{workdir}/ready", "timeout": 10})
    assert not appeared.failed and not appeared.changed, appeared.msg


def test_wait_for_times_out_with_what_it_last_saw(lab1: Host, workdir: str) -> None:
    timed_out = lab1.act("wait_for", {"port": 1, "timeout": 0.5})
    assert timed_out.failed and "last seen: stopped" in timed_out.msg
    gone = lab1.act("wait_for", {"path": workdir, "state": "absent", "timeout": 0.3})
    assert gone.failed and "last seen: present" in gone.msg


@pytest.fixture
def container(lab1: Host) -> Iterator[str]:
    name = "play-test-actions-wait"
    lab1.lab.run(lab1.machine, "docker", "rm", "-f", name)
    yield name
    lab1.lab.run(lab1.machine, "docker", "rm", "-f", name)


def test_wait_for_a_container_to_become_healthy(lab1: Host, container: str) -> None:
    lab1.sh("docker", "run", "-d", "--name", container, "--network", "host",
            "--health-cmd", "test -e /tmp/up", "--health-interval", "1s",
            LAB_IMAGE, "sh", "-c", "sleep 1; touch /tmp/up; sleep 60")
    healthy = lab1.act("wait_for", {"container": container, "timeout": 20})
    assert not healthy.failed and healthy.msg.endswith("is healthy"), healthy.msg
    lab1.sh("docker", "rm", "-f", container)
    assert not lab1.act("wait_for", {"container": container, "state": "absent"}).failed


# --- docker_image --------------------------------------------------------------------------

@pytest.fixture
def pulled_image(lab3: Host) -> Iterator[str]:
    lab3.lab.run(lab3.machine, "docker", "rmi", REGISTRY_IMAGE)
    yield REGISTRY_IMAGE
    lab3.lab.run(lab3.machine, "docker", "rmi", REGISTRY_IMAGE)


def test_docker_image_pull_check_and_remove(lab3: Host, pulled_image: str) -> None:
    def is_present() -> bool:
        return lab3.lab.run(lab3.machine, "docker", "image", "inspect",
                            pulled_image).returncode == 0

    pending = lab3.act("docker_image", {"name": pulled_image}, check=True)
    assert pending.changed and not is_present()
    assert lab3.act("docker_image", {"name": pulled_image}).changed and is_present()
    assert not lab3.act("docker_image", {"name": pulled_image}).changed
    assert lab3.act("docker_image", {"name": pulled_image, "state": "absent"}).changed
    assert not is_present()


def test_docker_image_import_from_a_local_tarball(lab3: Host, tmp_path: Path) -> None:
    name = "play-test-actions/imported:1"
    tarball = tmp_path / "rootfs.tar"
    (tmp_path / "hello").write_text("hi\n")
    with tarfile.open(tarball, "w") as tar:
        tar.add(tmp_path / "hello", arcname="hello")
    args = {"name": name, "source": "import", "tarball": str(tarball)}
    try:
        imported = lab3.act("docker_image", args)
        assert imported.changed, imported.msg
        assert lab3.sh("docker", "image", "inspect", "--format", "{{.Id}}", name).strip() == \
            imported.facts["image_id"]
        assert not lab3.act("docker_image", args).changed
    finally:
        lab3.lab.run(lab3.machine, "docker", "rmi", name)


def test_docker_image_pull_of_an_unknown_image_fails(lab3: Host) -> None:
    failed = lab3.act("docker_image", {"name": "10.250.0.1:5000/play-no-such-image:1"})
    assert failed.failed and "not found" in failed.msg


# --- fetch -------------------------------------------------------------------------------------

def test_fetch_copies_once(lab1: Host, workdir: str, tmp_path: Path) -> None:
    lab1.sh("sh", "-c", f"printf 'a\\0b' > {workdir}/data.bin")
    args = {"src": f"{workdir}/data.bin", "dest": str(tmp_path)}
    assert lab1.act("fetch", args, check=True).changed
    local = tmp_path / "lab1" / workdir.lstrip("/") / "data.bin"
    assert not local.exists()
    assert lab1.act("fetch", args).changed
    assert local.read_bytes() == b"a\0b"
    assert not lab1.act("fetch", args).changed
    missing = lab1.act("fetch", {"src": f"{workdir}/none", "dest": str(tmp_path)})
    assert missing.failed and "No such file" in missing.msg


# --- hostile values ----------------------------------------------------------------------------

def test_hostile_values_arrive_verbatim_and_run_nothing(lab1: Host, workdir: str) -> None:
    canary = f"{workdir}/canary"
    value = HOSTILE.format(canary=canary)
    # As a file name: no "/" (so its canary is relative: it would land in the home or
    # working directory) and no newline.
    path = f"{workdir}/{HOSTILE.format(canary='canary').replace(chr(10), ' ')}"
    assert lab1.act("copy", {"content": value, "dest": path, "mode": "0600"}).changed
    assert lab1.sh("cat", path) == value
    assert not lab1.act("copy", {"content": value, "dest": path, "mode": "0600"}).changed
    assert lab1.act("file", {"path": f"{path}.d", "state": "directory"}).changed
    assert lab1.act("command", {"argv": ["printf", "%s", value]}).stdout == value
    assert lab1.act("command", {"argv": ["true"], "creates": path}).skipped
    assert lab1.act("command", {"argv": ["pwd"], "chdir": f"{path}.d"}).stdout == f"{path}.d"
    assert not lab1.act("wait_for", {"path": path, "timeout": 1}).failed
    assert lab1.act("file", {"path": path, "state": "absent"}).changed
    assert not lab1.exists(path)
    for planted in (canary, f"{workdir}/canary", f"{path}.d/canary", "/home/deploy/canary"):
        assert not lab1.exists(planted)


# --- validate / backup (copy, template) --------------------------------------------------------

def test_copy_validate_refuses_a_broken_file_and_keeps_the_old_one(lab1: Host,
                                                                   workdir: str) -> None:
    dest = f"{workdir}/app.conf"
    lab1.act("copy", {"content": "port 80\n", "dest": dest})
    check = "grep -q ^port %s"
    refused = lab1.act("copy", {"content": "oops\n", "dest": dest, "validate": check})
    assert refused.failed and "validate refused" in refused.msg and "unchanged" in refused.msg
    assert lab1.sh("cat", dest) == "port 80\n"
    assert lab1.sh("ls", "-A", workdir).split() == ["app.conf"]  # no candidate left behind
    accepted = lab1.act("copy", {"content": "port 8080\n", "dest": dest, "validate": check})
    assert accepted.changed and not accepted.failed, accepted.msg
    assert lab1.sh("cat", dest) == "port 8080\n"


def test_copy_backup_keeps_the_old_file_with_a_timestamp(lab1: Host, workdir: str) -> None:
    dest = f"{workdir}/app.conf"
    lab1.act("copy", {"content": "old\n", "dest": dest, "mode": "0640"})
    changed = lab1.act("copy", {"content": "new\n", "dest": dest, "backup": True})
    backup = changed.facts["backup_file"]
    assert re.fullmatch(re.escape(dest) + r"\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~", backup)
    assert lab1.sh("cat", backup) == "old\n" and lab1.stat(backup) == "640 deploy deploy"
    assert lab1.sh("cat", dest) == "new\n"
    again = lab1.act("copy", {"content": "new\n", "dest": dest, "backup": True})
    assert not again.changed and "backup_file" not in again.facts


# --- lineinfile / blockinfile -------------------------------------------------------------------

def test_lineinfile_replaces_adds_removes_and_is_idempotent(lab1: Host, workdir: str) -> None:
    path = f"{workdir}/sshd_config"
    lab1.act("copy", {"content": "#Port 22\nPermitRootLogin yes\n", "dest": path})
    port = {"path": path, "regexp": "^#?Port ", "line": "Port 2222"}
    pending = lab1.act("lineinfile", port, check=True, diff=True)
    assert pending.changed and pending.diff and "-#Port 22\n+Port 2222\n" in pending.diff
    assert lab1.sh("cat", path) == "#Port 22\nPermitRootLogin yes\n"
    assert lab1.act("lineinfile", port).msg == "line replaced"
    assert not lab1.act("lineinfile", port).changed
    after = {"path": path, "line": "UseDNS no", "insertafter": "^Port "}
    assert lab1.act("lineinfile", after).msg == "line added"
    assert not lab1.act("lineinfile", after).changed
    gone = {"path": path, "regexp": "^PermitRootLogin", "state": "absent"}
    assert lab1.act("lineinfile", gone).changed
    assert not lab1.act("lineinfile", gone).changed
    assert lab1.sh("cat", path) == "Port 2222\nUseDNS no\n"


def test_lineinfile_on_a_missing_file_fails_unless_create(lab1: Host, workdir: str) -> None:
    path = f"{workdir}/new.conf"
    missing = lab1.act("lineinfile", {"path": path, "line": "a=1"})
    assert missing.failed and "create: true" in missing.msg
    made = lab1.act("lineinfile", {"path": path, "line": "a=1", "create": True, "mode": "0600"})
    assert made.changed, made.msg
    assert lab1.sh("cat", path) == "a=1\n" and lab1.stat(path) == "600 deploy deploy"


def test_blockinfile_inserts_replaces_and_removes_its_block(lab1: Host, workdir: str) -> None:
    path = f"{workdir}/hosts"
    lab1.act("copy", {"content": "127.0.0.1 localhost\n", "dest": path})
    block = {"path": path, "block": "10.0.0.1 db\n10.0.0.2 cache",
             "marker": "# {mark} play hosts"}
    assert lab1.act("blockinfile", block, check=True).changed
    assert lab1.sh("cat", path) == "127.0.0.1 localhost\n"
    assert lab1.act("blockinfile", block).changed
    assert lab1.sh("cat", path) == ("127.0.0.1 localhost\n# BEGIN play hosts\n10.0.0.1 db\n"
                                    "10.0.0.2 cache\n# END play hosts\n")
    assert not lab1.act("blockinfile", block).changed
    assert lab1.act("blockinfile", {**block, "block": "10.0.0.3 db"}).changed
    assert lab1.act("blockinfile", {**block, "state": "absent"}).changed
    assert lab1.sh("cat", path) == "127.0.0.1 localhost\n"


# --- stat -----------------------------------------------------------------------------------

def test_stat_reports_a_file_a_directory_and_nothing(lab1: Host, workdir: str) -> None:
    lab1.act("copy", {"content": "abc", "dest": f"{workdir}/f", "mode": "0640"})
    found = lab1.act("stat", {"path": f"{workdir}/f"}, check=True).facts["stat"]
    assert found["exists"] and found["isreg"] and not found["isdir"]
    assert (found["mode"], found["size"], found["pw_name"]) == ("0640", 3, "deploy")
    assert found["checksum"] == hashlib.sha1(b"abc").hexdigest()  # Ansible's default
    assert lab1.act("stat", {"path": workdir}).facts["stat"]["isdir"]
    assert lab1.act("stat", {"path": f"{workdir}/none"}).facts["stat"] == {
        "exists": False, "path": f"{workdir}/none"}


# --- authorized_key ------------------------------------------------------------------------

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHplYXlwbGF5dGVzdGtleW9ubHlmb3J0ZXN0cw play@test"


def test_authorized_key_makes_the_folder_and_file_private_to_the_user(
        lab1: Host, test_user: str) -> None:
    assert lab1.act("user", {"name": test_user}, become=True).changed
    args = {"user": test_user, "key": KEY}
    assert lab1.act("authorized_key", args, check=True, become=True).changed
    home = f"/home/{test_user}"
    assert not lab1.exists(f"{home}/.ssh/authorized_keys")
    assert lab1.act("authorized_key", args, become=True).changed
    assert lab1.sh("sudo", "-n", "stat", "-c", "%a %U", f"{home}/.ssh",
                   f"{home}/.ssh/authorized_keys").split("\n")[:2] == [
        f"700 {test_user}", f"600 {test_user}"]
    assert lab1.sh("sudo", "-n", "cat", f"{home}/.ssh/authorized_keys") == KEY + "\n"
    assert not lab1.act("authorized_key", args, become=True).changed
    assert lab1.act("authorized_key", {**args, "state": "absent"}, become=True).changed
    assert lab1.sh("sudo", "-n", "cat", f"{home}/.ssh/authorized_keys") == ""
    lab1.lab.run(lab1.machine, "sudo", "-n", "rm", "-rf", home)


# --- service -------------------------------------------------------------------------------

SERVICE = "play-e2e-demo"
INIT_SCRIPT = f"""#!/bin/sh
### BEGIN INIT INFO
# Provides:          {SERVICE}
# Required-Start:    $local_fs
# Required-Stop:     $local_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: play's e2e test service
### END INIT INFO
pidfile=/run/{SERVICE}.pid
# /proc, not kill -0: the tests read the status as the deploy user, who may not signal root
running() {{ [ -f $pidfile ] && [ -d "/proc/$(cat $pidfile)" ]; }}
case "$1" in
  start) running || {{ setsid sleep 100000 </dev/null >/dev/null 2>&1 & echo $! >$pidfile; }} ;;
  stop) if running; then kill "$(cat $pidfile)"; fi; rm -f $pidfile ;;
  restart|reload) "$0" stop; "$0" start ;;
  status) running || exit 3 ;;
  *) echo "usage: $0 start|stop|restart|reload|status" >&2; exit 2 ;;
esac
"""


@pytest.fixture
def init_script(lab1: Host) -> Iterator[str]:
    script = f"/etc/init.d/{SERVICE}"
    written = lab1.act("copy", {"content": INIT_SCRIPT, "dest": script, "mode": "0755"},
                       become=True)
    assert not written.failed, written.msg
    yield SERVICE
    lab1.lab.sh(lab1.machine, f"sudo -n {script} stop; sudo -n update-rc.d -f {SERVICE} "
                              f"remove; sudo -n rm -f {script}")


def _pid(host: Host) -> str:
    return host.lab.run(host.machine, "cat", f"/run/{SERVICE}.pid").stdout.strip()


def test_service_through_an_init_script_starts_enables_restarts_and_stops(
        lab1: Host, init_script: str) -> None:
    started = {"name": init_script, "state": "started", "enabled": True}
    pending = lab1.act("service", started, check=True, become=True)
    assert pending.changed and pending.msg == (f"would start {init_script}; "
                                               f"enable {init_script}")
    assert lab1.lab.run(lab1.machine, f"/etc/init.d/{init_script}", "status").returncode == 3
    done = lab1.act("service", started, become=True)
    assert done.changed and done.facts["manager"] == "sysv", done.msg
    assert lab1.lab.run(lab1.machine, f"/etc/init.d/{init_script}", "status").returncode == 0
    assert lab1.sh("sh", "-c", f"ls /etc/rc2.d/ | grep -c {init_script}").strip() == "1"
    assert not lab1.act("service", started, become=True).changed
    before = _pid(lab1)
    assert lab1.act("systemd", {"name": init_script, "state": "restarted"}, become=True).changed
    assert _pid(lab1) not in ("", before)
    stopped = {"name": init_script, "state": "stopped", "enabled": False}
    assert lab1.act("service", stopped, become=True).changed
    assert lab1.lab.run(lab1.machine, f"/etc/init.d/{init_script}", "status").returncode == 3
    assert not lab1.act("service", stopped, become=True).changed


def test_service_that_does_not_exist_fails_naming_it(lab1: Host) -> None:
    failed = lab1.act("service", {"name": "play-no-such", "state": "started"})
    assert failed.failed and "no init script /etc/init.d/play-no-such" in failed.msg


# --- apt cache ------------------------------------------------------------------------------

def test_apt_update_cache_is_skipped_while_cache_valid_time_holds(lab1: Host) -> None:
    args = {"update_cache": True, "cache_valid_time": 3600}
    first = lab1.act("apt", args, become=True)
    assert not first.failed, first.msg
    second = lab1.act("apt", args, become=True)
    assert not second.changed and second.msg == "the package cache is fresh"
    assert lab1.act("apt", {"update_cache": True}, check=True, become=True).changed


# --- an Ansible-style play through `play` -------------------------------------------------

def test_an_ansible_style_play_converges_then_changes_nothing(lab: Lab, srv_dir: str) -> None:
    arguments = (str(E2E_DATA / "ansible_style.yml"), "-i", str(lab.inventory),
                 "-e", f"dir={srv_dir}")
    first = play(*arguments)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "ran handlers: reload marker (changed)" in first.stdout
    assert "lab2 listens on 8082" in first.stdout
    assert lab.run(lab.host("lab3"), "cat", f"{srv_dir}/app.conf").stdout == (
        "# app\nport=8083\n# BEGIN ANSIBLE MANAGED BLOCK\npeer=lab1\npeer=lab2\npeer=lab3\n"
        "# END ANSIBLE MANAGED BLOCK\n")
    second = play(*arguments, "--check")
    assert second.returncode == 0, second.stdout + second.stderr  # no drift
    assert not re.search(r" lab\d changed ", second.stdout), second.stdout
