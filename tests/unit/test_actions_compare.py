"""The pure halves of the task actions: what each would change, decided without a host."""

from __future__ import annotations

import base64
import hashlib

import pytest

from engine.actions.base import ActionError
from engine.actions.command import GUARD_SCRIPT, command_argv, guarded, outcome_of, stdin_bytes
from engine.actions.copy import (
    CurrentFile,
    DesiredFile,
    accounts_after_write,
    compare_copy,
    parse_read,
)
from engine.actions.docker_image import DesiredImage, compare_image
from engine.actions.fetch import compare_fetch, local_path
from engine.actions.file import CurrentPath, DesiredPath, apply_commands, compare_file, drift_finder
from engine.actions.files import (
    Attributes,
    PathState,
    attribute_commands,
    chained,
    normalize_mode,
    parse_stat,
    unified_diff,
)
from engine.actions.package import CurrentPackages, as_change, compare_packages
from engine.actions.package import apply_commands as package_commands
from engine.actions.package import parse_read as parse_packages
from engine.actions.user import CurrentUser, DesiredUser, apply_command, compare_user
from engine.actions.user import apply_commands as user_commands
from engine.actions.user import desired_from as desired_user
from engine.actions.user import parse_read as parse_user
from engine.actions.wait_for import desired_from as desired_wait
from engine.actions.wait_for import proc_net_addresses
from engine.connection import CommandResult

FILE = PathState("file", "0644", "1000", "1000", "deploy", "deploy")


# --- modes and attributes -----------------------------------------------------------

@pytest.mark.parametrize(("given", "expected"), [
    ("0644", "0644"), ("644", "0644"), ("1777", "1777"), (0o644, "0644"), (None, None),
])
def test_modes_are_normalized_to_four_octal_digits(given: object, expected: str | None) -> None:
    assert normalize_mode(given) == expected


@pytest.mark.parametrize("bad", ["u+rwz", "0689", "12345", "rwx", "a=r,,"])
def test_a_mode_that_is_neither_octal_nor_symbolic_is_refused(bad: str) -> None:
    with pytest.raises(ActionError, match="octal such as '0644' or symbolic"):
        normalize_mode(bad)


def test_a_symbolic_mode_is_kept_for_chmod_with_whom_it_is_for() -> None:
    assert normalize_mode("u+rwx") == "u+rwx"
    assert normalize_mode("+x,go=rx") == "a+x,go=rx"


def test_stat_lines_parse_into_a_path_state() -> None:
    assert parse_stat("644 0 0 root root regular empty file") == PathState(
        "file", "0644", "0", "0", "root", "root")
    assert parse_stat("") == PathState()
    assert parse_stat("777 0 0 root root symbolic link").kind == "link"


def test_only_differing_attributes_are_reported() -> None:
    wanted = Attributes("0600", "deploy", "root")
    assert wanted.describe(FILE) == ("mode 0644 -> 0600", "group deploy -> root")
    assert wanted.differing(FILE) == Attributes("0600", None, "root")


def test_owner_may_be_given_by_number() -> None:
    assert Attributes(owner="1000", group="1000").describe(FILE) == ()


def test_attribute_commands_chown_then_chmod() -> None:
    assert attribute_commands("/srv/a b", Attributes("0600", None, "adm"), recurse=True) == [
        ["chown", "-R", "--", ":adm", "/srv/a b"], ["chmod", "-R", "--", "0600", "/srv/a b"]]


def test_chained_commands_quote_every_argument() -> None:
    argv = chained([["touch", "--", "/srv/$(reboot); x"], ["rm", "-f", "--", "a'b"]])
    assert argv[:2] == ["/bin/sh", "-c"]
    assert argv[2] == "touch -- '/srv/$(reboot); x' && rm -f -- 'a'\"'\"'b'"


# --- copy / template -----------------------------------------------------------------

def destination(content: bytes | None, state: PathState = FILE) -> CurrentFile:
    if content is None:
        return CurrentFile("/srv/app.conf", PathState(), None, None, ("1000", "1000"))
    return CurrentFile("/srv/app.conf", state, hashlib.sha256(content).hexdigest(), content,
                       ("1000", "1000"))


def test_copy_of_identical_content_changes_nothing() -> None:
    assert not compare_copy(destination(b"a\n"), DesiredFile(b"a\n", Attributes())).is_needed


def test_copy_to_a_missing_file_creates_it_with_a_diff_from_nothing() -> None:
    change = compare_copy(destination(None), DesiredFile(b"a\n", Attributes("0600")),
                          with_diff=True)
    assert change.what == ("create /srv/app.conf", "mode - -> 0600")
    assert change.diff is not None and change.diff.startswith("--- /dev/null\n")
    assert "+a\n" in change.diff


def test_copy_diff_shows_old_and_new_lines() -> None:
    change = compare_copy(destination(b"port 80\nname x\n"),
                       DesiredFile(b"port 8080\nname x\n", Attributes()), with_diff=True)
    assert change.what == ("update content of /srv/app.conf",)
    assert change.diff is not None
    assert "-port 80\n+port 8080\n" in change.diff and " name x\n" in change.diff


def test_copy_only_mode_differs() -> None:
    change = compare_copy(destination(b"a"), DesiredFile(b"a", Attributes("0640")), with_diff=True)
    assert change.what == ("mode 0644 -> 0640",)
    assert change.diff is None


def test_copy_onto_a_directory_fails() -> None:
    with pytest.raises(ActionError, match="is a directory"):
        compare_copy(destination(b"", PathState("directory", "0755")),
                     DesiredFile(b"a", Attributes()))


def test_a_rewrite_under_another_account_gives_the_file_back_to_its_owner() -> None:
    current = CurrentFile("/srv/f", FILE, "x", None, ("0", "0"))
    assert accounts_after_write(current, DesiredFile(b"a", Attributes())) == Attributes(
        None, "1000", "1000")
    mine = CurrentFile("/srv/f", FILE, "x", None, ("1000", "1000"))
    assert accounts_after_write(mine, DesiredFile(b"a", Attributes())).is_empty


def test_copy_read_output_parses_with_old_content() -> None:
    output = "into\n0 0\n\n600 0 0 root root regular file\nabc\naGVsbG8K\n"
    current = parse_read(output, "/srv/dir", "f.txt")
    assert current.path == "/srv/dir/f.txt"
    assert current.state.mode == "0600" and current.sha256 == "abc"
    assert current.old_content == b"hello\n"
    assert current.link is None


def test_a_symlinked_dest_is_read_as_its_target_and_named_both_ways() -> None:
    target = base64.b64encode(b"/srv/real/app.conf").decode()
    output = f"as\n1000 1000\n{target}\n640 0 0 root root regular file\nabc\n"
    current = parse_read(output, "/srv/app.conf", "")
    assert current.path == "/srv/real/app.conf" and current.link == "/srv/app.conf"
    assert current.state.mode == "0640" and current.state.kind == "file"
    change = compare_copy(current, DesiredFile(b"new\n", Attributes()))
    assert change.what == ("update content of /srv/real/app.conf (through link "
                           "/srv/app.conf)",)


def test_binary_and_huge_content_get_a_short_diff() -> None:
    assert "binary" in unified_diff("/f", b"\xff\xfe", b"\x00\xff")
    assert "too large" in unified_diff("/f", None, b"x" * 300_000)


def test_diff_marks_a_missing_final_newline() -> None:
    assert "\\ No newline at end of file" in unified_diff("/f", b"a\n", b"b")


# --- file ----------------------------------------------------------------------------

def test_directory_is_created_with_its_mode() -> None:
    desired = DesiredPath("/srv/d", "directory", Attributes("0750"))
    change = compare_file(CurrentPath(PathState()), desired)
    assert change.what == ("create directory /srv/d", "mode - -> 0750")
    assert apply_commands(CurrentPath(PathState()), desired) == [
        ["mkdir", "-p", "--", "/srv/d"], ["chmod", "--", "0750", "/srv/d"]]


def test_existing_directory_with_right_attributes_is_left_alone() -> None:
    current = CurrentPath(PathState("directory", "0750", "0", "0", "root", "root"))
    assert not compare_file(current, DesiredPath("/srv/d", "directory",
                                              Attributes("0750", "root"))).is_needed


def test_recurse_reports_drift_below() -> None:
    current = CurrentPath(PathState("directory", "0755"), has_drift_below=True)
    desired = DesiredPath("/srv/d", "directory", Attributes("0755"), recurse=True)
    assert compare_file(current, desired).is_needed
    assert apply_commands(current, desired) == [["chmod", "-R", "--", "0755", "/srv/d"]]


def test_drift_finder_skips_links_and_ors_the_tests() -> None:
    assert drift_finder("/srv/d", Attributes("0755", "deploy")) == [
        "find", "/srv/d", "!", "-type", "l", "(", "!", "-perm", "0755", "-o", "!", "-user",
        "deploy", ")", "-print"]
    assert drift_finder("rel", Attributes()) == []


@pytest.mark.parametrize(("state", "kind", "message"), [
    ("file", None, "does not exist"), ("file", "directory", "is a directory, not a file"),
    ("directory", "file", "is a file, not a directory"), ("link", "file", "not a link"),
])
def test_impossible_file_states_fail_with_the_reason(state: str, kind: str | None,
                                                     message: str) -> None:
    with pytest.raises(ActionError, match=message):
        compare_file(CurrentPath(PathState(kind, "0644")),
                  DesiredPath("/srv/x", state, Attributes(), src="/srv/y"))


def test_absent_removes_whatever_is_there() -> None:
    assert compare_file(CurrentPath(FILE), DesiredPath("/srv/x", "absent", Attributes())).what == (
        "remove file /srv/x",)
    assert not compare_file(CurrentPath(PathState()), DesiredPath("/srv/x", "absent",
                                                           Attributes())).is_needed


def test_link_is_relinked_only_when_its_target_differs() -> None:
    link = CurrentPath(PathState("link", "0777"), link_target="/srv/a")
    assert not compare_file(link, DesiredPath("/srv/l", "link", Attributes(), "/srv/a")).is_needed
    assert compare_file(link, DesiredPath("/srv/l", "link", Attributes(), "/srv/b")).what == (
        "relink /srv/l: /srv/a -> /srv/b",)


# --- command / shell ------------------------------------------------------------------

def test_command_string_is_split_like_a_shell_but_never_run_by_one() -> None:
    assert command_argv({"cmd": "echo 'a b' $(x)"}) == ["echo", "a b", "$(x)"]
    assert command_argv({"argv": ["echo", 1]}) == ["echo", "1"]


def test_guards_wrap_the_command_as_positional_parameters() -> None:
    argv, marker = guarded(["touch", "/srv/x"], {"creates": "/srv/x", "chdir": "/srv"})
    assert marker is not None and marker.startswith("play-skip-")
    assert argv == ["/bin/sh", "-c", GUARD_SCRIPT, "play-command", "/srv/x", "", "/srv", marker,
                    "touch", "/srv/x"]
    assert guarded(["true"], {}) == (["true"], None)
    assert guarded(["true"], {"creates": "/x"})[1] != marker  # fresh per command


def test_stdin_gets_a_final_newline() -> None:
    assert stdin_bytes({"stdin": "abc"}) == b"abc\n"
    assert stdin_bytes({}) is None


def test_marker_output_means_skipped_and_a_non_zero_exit_means_failed() -> None:
    skipped = outcome_of(CommandResult("", 0, "MARK /srv/x exists\n", "", 0.0), "MARK",
                         {"cmd": ["x"]})
    assert skipped.skipped and not skipped.changed and skipped.facts == {"cmd": ["x"]}
    failed = outcome_of(CommandResult("", 2, "", "no such file\n", 0.0), "MARK", {})
    assert failed.failed and failed.rc == 2 and "no such file" in failed.msg
    # without guards there is no marker: output that looks like one is just output
    unguarded = outcome_of(CommandResult("", 0, "MARK /srv/x exists\n", "", 0.0), None, {})
    assert unguarded.changed and not unguarded.skipped


# --- package -------------------------------------------------------------------------

def test_package_plan_installs_only_the_missing() -> None:
    facts = CurrentPackages("apt", frozenset({"openssh-server"}))
    todo = compare_packages(["openssh-server", "cowsay"], "present", facts)
    assert as_change(todo).what == ("install cowsay",)
    assert package_commands("apt", todo) == [[
        "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-y", "-q", "install", "--",
        "cowsay"]]


def test_package_plan_for_latest_and_absent() -> None:
    facts = CurrentPackages("dnf", frozenset({"curl", "vim"}), frozenset({"vim"}))
    assert as_change(compare_packages(["curl", "vim", "jq"], "latest", facts)).what == (
        "install jq", "upgrade vim")
    assert as_change(compare_packages(["curl", "jq"], "absent", facts)).what == ("remove curl",)
    assert not as_change(compare_packages(["curl=7.1", "vim:amd64"], "present", facts)).is_needed


def test_dpkg_and_apt_cache_output_parse() -> None:
    output = ("apt\nopenssh-server\tii \nold\trc \n--\nopenssh-server:\n  Installed: 1:9.2\n"
              "  Candidate: 1:9.3\n  Version table:\n")
    facts = parse_packages(output, ["openssh-server", "old"])
    assert facts.installed == {"openssh-server"}
    assert facts.upgradable == {"openssh-server"}


# --- user ----------------------------------------------------------------------------

ACCOUNT = CurrentUser("app", "1001", "1001", "/home/app", "/bin/sh", "app", frozenset({"adm"}))


def test_user_read_output_parses() -> None:
    parsed = parse_user("app:x:1001:1001::/home/app:/bin/sh\napp adm\n")
    assert parsed == ACCOUNT
    assert parse_user("") is None


def test_missing_user_is_created_with_every_given_flag() -> None:
    desired = DesiredUser("app", uid="1001", groups=frozenset({"adm", "docker"}),
                          create_home=False)
    assert compare_user(None, desired).what == ("create user app",)
    assert apply_command(None, desired) == [
        "useradd", "-u", "1001", "-G", "adm,docker", "-M", "--", "app"]


def test_existing_user_changes_only_what_differs() -> None:
    desired = DesiredUser("app", shell="/bin/bash", groups=frozenset({"docker"}), append=True)
    assert compare_user(ACCOUNT, desired).what == (
        "shell /bin/sh -> /bin/bash", "groups adm -> adm,docker")
    assert apply_command(ACCOUNT, desired) == [
        "usermod", "-s", "/bin/bash", "-G", "adm,docker", "--", "app"]


def test_user_with_matching_attributes_is_left_alone() -> None:
    desired = DesiredUser("app", uid="1001", group="1001", groups=frozenset({"adm"}))
    assert not compare_user(ACCOUNT, desired).is_needed


def test_password_change_never_shows_the_hash() -> None:
    change = compare_user(ACCOUNT, DesiredUser("app", password="$6$salt$hash"))
    assert change.what == ("change password",)


def test_a_password_hash_goes_to_chpasswd_on_stdin_never_in_argv() -> None:
    hashed = "$6$salt$hash"
    for current, desired in ((None, DesiredUser("app", shell="/bin/sh", password=hashed)),
                             (ACCOUNT, DesiredUser("app", shell="/bin/bash", password=hashed)),
                             (ACCOUNT, DesiredUser("app", password=hashed))):
        argv, stdin = user_commands(current, desired)
        assert not any(hashed in part for part in argv), argv
        assert "chpasswd -e" in " ".join(argv)
        assert stdin == f"app:{hashed}\n".encode()
    assert user_commands(ACCOUNT, DesiredUser("app", password=hashed)) == (
        ["chpasswd", "-e"], b"app:$6$salt$hash\n")
    assert user_commands(ACCOUNT, DesiredUser("app", shell="/bin/bash")) == (
        ["usermod", "-s", "/bin/bash", "--", "app"], None)


def test_a_password_that_chpasswd_would_misread_is_refused() -> None:
    for password in ("a:b", "a\nroot:x"):
        with pytest.raises(ActionError, match="crypt hash"):
            desired_user({"name": "app", "password": password})



def test_templated_boolean_arguments_read_words_as_ansible_does() -> None:
    desired = desired_user({"name": "app", "append": "no", "system": "False",
                            "create_home": "off"})
    assert (desired.append, desired.system, desired.create_home) == (False, False, False)
    assert desired_user({"name": "app", "append": "yes"}).append
    with pytest.raises(ValueError, match=r"append must be true or false .*'sometimes'"):
        desired_user({"name": "app", "append": "sometimes"})


def test_absent_user_is_removed() -> None:
    assert compare_user(ACCOUNT, DesiredUser("app", "absent")).what == ("remove user app",)
    assert not compare_user(None, DesiredUser("app", "absent")).is_needed


# --- wait_for, docker_image, fetch ----------------------------------------------------

def test_port_addresses_in_proc_net_tcp_form() -> None:
    forms = proc_net_addresses("127.0.0.1")
    assert "0100007F" in forms and "00000000" in forms
    assert "0000000000000000FFFF00000100007F" in forms   # ::ffff:127.0.0.1, little-endian
    assert "0" * 32 in forms


def test_wait_for_needs_exactly_one_target() -> None:
    with pytest.raises(ActionError, match="exactly one"):
        desired_wait({"port": 80, "path": "/x"})
    wait = desired_wait({"port": 8080, "host": "db.internal", "timeout": 5})
    assert (wait.addresses, wait.port, wait.timeout) == ("*", ":1F90", 5.0)
    assert desired_wait({"container": "api"}).accepted == "healthy running"
    assert desired_wait({"path": "/x", "state": "absent"}).accepted == "absent"


def test_image_plan() -> None:
    assert compare_image(None, DesiredImage("busybox")).what == ("pull image busybox",)
    assert not compare_image("sha256:1", DesiredImage("busybox")).is_needed
    assert compare_image("sha256:1", DesiredImage("busybox", force=True)).is_needed
    assert compare_image("sha256:1", DesiredImage("busybox", "absent")).what == (
        "remove image busybox",)


def test_fetch_paths_stay_under_dest() -> None:
    assert str(local_path("/etc/hosts", "out", "web1", False)) == "out/web1/etc/hosts"
    assert str(local_path("/etc/hosts", "out/", "web1", True)) == "out/hosts"
    with pytest.raises(ActionError, match="climbs out"):
        local_path("../../etc/passwd", "out", "web1", False)
    assert compare_fetch(local_path("/a", "o", "h", False), "x", "x").is_needed is False
