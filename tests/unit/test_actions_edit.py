"""The pure halves of the actions added for Ansible users: the text edits of lineinfile,
blockinfile and authorized_key, stat's fields, the service verbs, validate and backup,
apt's cache refresh. Facts in, changes out, no host."""

from __future__ import annotations

import pytest

from engine.actions.authorized_key import edit_keys, key_identity, keys_from
from engine.actions.base import ActionError
from engine.actions.blockinfile import DesiredBlock, edit_block
from engine.actions.blockinfile import desired_from as desired_block
from engine.actions.lineinfile import DesiredLine, edit_lines
from engine.actions.lineinfile import desired_from as desired_line
from engine.actions.package import CurrentPackages, as_change, compare_packages
from engine.actions.package import parse_read as parse_packages
from engine.actions.safe_write import backup_path, validate_argv
from engine.actions.service import (
    CurrentService,
    DesiredService,
    apply_commands,
    compare_service,
    parse_read,
)
from engine.actions.stat import parse_stat
from engine.actions.textfile import parse_read as parse_text

SSHD = "#Port 22\nPermitRootLogin yes\n"


# --- lineinfile ----------------------------------------------------------------------------

@pytest.mark.parametrize(("desired", "text", "msg"), [
    (DesiredLine("Port 2222", regexp="^#?Port "), "Port 2222\nPermitRootLogin yes\n",
     "line replaced"),
    (DesiredLine("UseDNS no"), SSHD + "UseDNS no\n", "line added"),
    (DesiredLine("UseDNS no", insertafter="^#Port"), "#Port 22\nUseDNS no\nPermitRootLogin yes\n",
     "line added"),
    (DesiredLine("UseDNS no", insertbefore="^Permit"),
     "#Port 22\nUseDNS no\nPermitRootLogin yes\n", "line added"),
    (DesiredLine("UseDNS no", insertbefore="BOF"), "UseDNS no\n" + SSHD, "line added"),
    (DesiredLine("UseDNS no", insertafter="^nothing"), SSHD + "UseDNS no\n", "line added"),
    (DesiredLine(None, state="absent", regexp="^Permit"), "#Port 22\n", "1 line(s) removed"),
    (DesiredLine("#Port 22", state="absent"), "PermitRootLogin yes\n", "1 line(s) removed"),
    (DesiredLine("PermitRootLogin yes"), SSHD, ""),
    (DesiredLine("PermitRootLogin yes", regexp="^nomatch"), SSHD, ""),
    (DesiredLine(r"Port \g<1>000", regexp=r"^#?Port (\d+)", backrefs=True),
     "Port 22000\nPermitRootLogin yes\n", "line replaced"),
    (DesiredLine("x", regexp="^nomatch", backrefs=True), SSHD, ""),
    # search_string: a literal part of the line ("." is no wildcard)
    (DesiredLine("Port 2222", search_string="Port 2"), "Port 2222\nPermitRootLogin yes\n",
     "line replaced"),
    (DesiredLine("x", search_string="Port.2"), SSHD + "x\n", "line added"),
    (DesiredLine(None, state="absent", search_string="Root"), "#Port 22\n",
     "1 line(s) removed"),
    (DesiredLine("PermitRootLogin yes", search_string="nomatch"), SSHD, ""),
])
def test_lineinfile_edits_as_ansible_does(desired: DesiredLine, text: str, msg: str) -> None:
    edit = edit_lines(SSHD, desired)
    assert (edit.text, edit.msg) == (text, msg)


def test_lineinfile_firstmatch_takes_the_first_match_as_ansible_does() -> None:
    # what ansible-core 2.19's lineinfile writes for the same file and arguments
    text = "a=1\nb\na=2\nb\n"
    assert edit_lines(text, DesiredLine("a=3", regexp="^a=", firstmatch=True)).text == \
        "a=3\nb\na=2\nb\n"
    assert edit_lines(text, DesiredLine("a=3", search_string="a=", firstmatch=True)).text == \
        "a=3\nb\na=2\nb\n"
    assert edit_lines(text, DesiredLine("c", insertafter="^b", firstmatch=True)).text == \
        "a=1\nb\nc\na=2\nb\n"
    assert edit_lines(text, DesiredLine("c", insertbefore="^b", firstmatch=True)).text == \
        "a=1\nc\nb\na=2\nb\n"
    assert edit_lines(text, DesiredLine("c", insertafter="^b")).text == text + "c\n"


def test_lineinfile_replaces_the_last_match_and_ends_an_unended_last_line() -> None:
    assert edit_lines("a=1\na=2\n", DesiredLine("a=3", regexp="^a=")).text == "a=1\na=3\n"
    assert edit_lines("a=1", DesiredLine("b=2")).text == "a=1\nb=2\n"
    assert edit_lines("", DesiredLine("b=2")).text == "b=2\n"


@pytest.mark.parametrize(("args", "problem"), [
    ({"path": "p"}, "needs line"),
    ({"path": "p", "state": "absent"}, "needs line, regexp or search_string"),
    ({"path": "p", "line": "x", "regexp": "a", "search_string": "a"}, "not both"),
    ({"path": "p", "line": "x", "search_string": ""}, "matches every line"),
    ({"path": "p", "line": "x", "search_string": "a", "backrefs": True}, "needs regexp"),
    ({"path": "p", "line": "x", "insertafter": "a", "insertbefore": "b"}, "not both"),
    ({"path": "p", "line": "x", "backrefs": True}, "backrefs needs regexp"),
    ({"path": "p", "line": "x", "state": "gone"}, "present or absent"),
])
def test_lineinfile_arguments_that_cannot_work_are_refused(args: dict[str, object],
                                                           problem: str) -> None:
    with pytest.raises(ActionError, match=problem):
        desired_line(args)


def test_a_bad_regexp_names_itself() -> None:
    with pytest.raises(ActionError, match="regexp '\\(' is not a valid regular expression"):
        edit_lines(SSHD, DesiredLine("x", regexp="("))


# --- blockinfile ---------------------------------------------------------------------------

def test_blockinfile_inserts_then_finds_its_block_again() -> None:
    desired = desired_block({"path": "p", "block": "a\nb"})
    first = edit_block("x\n", desired)
    assert first.text == "x\n# BEGIN ANSIBLE MANAGED BLOCK\na\nb\n# END ANSIBLE MANAGED BLOCK\n"
    assert first.msg == "Block inserted"
    assert edit_block(first.text, desired).msg == ""
    changed = edit_block(first.text, desired_block({"path": "p", "block": "c"}))
    assert changed.text == "x\n# BEGIN ANSIBLE MANAGED BLOCK\nc\n# END ANSIBLE MANAGED BLOCK\n"
    removed = edit_block(first.text, desired_block({"path": "p", "state": "absent"}))
    assert (removed.text, removed.msg) == ("x\n", "Block removed")
    assert edit_block(first.text, desired_block({"path": "p", "block": ""})).text == "x\n"


def test_blockinfile_markers_and_placement() -> None:
    desired = desired_block({"path": "p", "block": "k", "marker": "<!-- {mark} -->",
                             "marker_begin": "start", "insertbefore": "BOF"})
    assert edit_block("x\n", desired).text == "<!-- start -->\nk\n<!-- END -->\nx\n"
    after = DesiredBlock("k", insertafter="^a")
    assert edit_block("a\nb\n", after).text.startswith("a\n# BEGIN ANSIBLE MANAGED BLOCK\nk\n")
    with pytest.raises(ActionError, match="must contain \\{mark\\}"):
        desired_block({"path": "p", "block": "k", "marker": "# managed"})


# --- authorized_key ------------------------------------------------------------------------

KEY = "ssh-ed25519 AAAAC3Nz key1"


def test_a_key_is_the_same_key_whatever_its_options_and_comment() -> None:
    assert key_identity(KEY) == ("ssh-ed25519", "AAAAC3Nz")
    assert key_identity('from="10.0.0.1",no-pty ssh-ed25519 AAAAC3Nz other') == (
        "ssh-ed25519", "AAAAC3Nz")
    assert key_identity("# a comment") is None and key_identity("") is None


def test_authorized_keys_add_update_dedupe_exclusive_and_remove() -> None:
    added = edit_keys("# keep\nssh-rsa AAAB other\n", [KEY], "present")
    assert added.text == f"# keep\nssh-rsa AAAB other\n{KEY}\n" and added.msg
    assert edit_keys(added.text, [KEY], "present").msg == ""
    updated = edit_keys(added.text, [f"no-pty {KEY} new"], "present")
    assert updated.text == f"# keep\nssh-rsa AAAB other\nno-pty {KEY} new\n"
    assert edit_keys(f"{KEY}\n{KEY}\n", [KEY], "present").text == f"{KEY}\n"
    assert edit_keys(added.text, [KEY], "present", exclusive=True).text == f"# keep\n{KEY}\n"
    assert edit_keys(added.text, [KEY], "absent").text == "# keep\nssh-rsa AAAB other\n"
    with pytest.raises(ActionError, match="SSH public key"):
        edit_keys("", ["not a key"], "present")


def test_key_options_replace_the_options_each_key_was_written_with() -> None:
    assert keys_from({"key": f'no-pty {KEY}\n{KEY} c2', "key_options": 'from="10.0.0.1"'}) == [
        f'from="10.0.0.1" {KEY}', f'from="10.0.0.1" {KEY} c2']
    assert keys_from({"key": KEY, "key_options": ""}) == [KEY]
    updated = edit_keys(f"{KEY}\n", keys_from({"key": KEY, "key_options": "no-pty"}), "present")
    assert updated.text == f"no-pty {KEY}\n" and updated.msg


# --- stat ----------------------------------------------------------------------------------

def test_stat_fields_from_the_read() -> None:
    found = parse_stat("640|3|1000|1000|deploy|deploy|1700000000|regular file\n\nabc123\n",
                       "/srv/f")
    assert found == {"exists": True, "path": "/srv/f", "mode": "0640", "size": 3, "uid": 1000,
                     "gid": 1000, "pw_name": "deploy", "gr_name": "deploy",
                     "mtime": 1700000000.0, "isreg": True, "isdir": False, "islnk": False,
                     "checksum": "abc123"}
    link = parse_stat("777|4|0|0|root|root|1|symbolic link\n/etc/x\n", "/l")
    assert link["islnk"] and link["lnk_target"] == "/etc/x" and "checksum" not in link
    assert parse_stat("", "/none") == {"exists": False, "path": "/none"}


# --- service -------------------------------------------------------------------------------

STOPPED = CurrentService("sysv", is_active=False, enabled="disabled")
RUNNING = CurrentService("systemd", is_active=True, enabled="enabled")


@pytest.mark.parametrize(("current", "desired", "verbs"), [
    (STOPPED, DesiredService("web", "started", True), ["start", "enable"]),
    (RUNNING, DesiredService("web", "started", True), []),
    (RUNNING, DesiredService("web", "stopped", False), ["stop", "disable"]),
    (STOPPED, DesiredService("web", "stopped"), []),
    (RUNNING, DesiredService("web", "restarted"), ["restart"]),
    (RUNNING, DesiredService("web", "reloaded"), ["reload"]),
    (STOPPED, DesiredService("web", "reloaded"), ["start"]),
    (CurrentService("systemd", True, "static"), DesiredService("web", enabled=True), []),
])
def test_service_verbs(current: CurrentService, desired: DesiredService,
                       verbs: list[str]) -> None:
    change, planned = compare_service(current, desired)
    assert planned == verbs
    assert change.what == tuple(f"{verb} web" for verb in verbs)


def test_service_commands_for_systemd_and_init_scripts() -> None:
    desired = DesiredService("web", "started", True, daemon_reload=True)
    assert apply_commands("systemd", desired, ["start", "enable"]) == [
        ["systemctl", "daemon-reload"], ["systemctl", "start", "--", "web"],
        ["systemctl", "enable", "--", "web"]]
    assert apply_commands("sysv", desired, ["start", "enable", "disable"]) == [
        ["/etc/init.d/web", "start"], ["update-rc.d", "web", "defaults"],
        ["update-rc.d", "web", "enable"], ["update-rc.d", "web", "disable"]]


def test_service_read_and_an_unknown_systemd_unit() -> None:
    assert parse_read("sysv\nactive\nenabled") == CurrentService("sysv", True, "enabled")
    unknown = parse_read("systemd\ninactive\ndisabled\nnot-found\n")
    with pytest.raises(ActionError, match="systemd has no such unit"):
        compare_service(unknown, DesiredService("nope", "started"))


# --- validate, backup, reading a text file ---------------------------------------------------

def test_validate_substitutes_the_candidate_and_needs_percent_s() -> None:
    assert validate_argv("sshd -t -f %s", "/etc/ssh/.c") == ["sshd", "-t", "-f", "/etc/ssh/.c"]
    assert validate_argv("visudo -cf '%s'", "/x y") == ["visudo", "-cf", "/x y"]
    with pytest.raises(ActionError, match="must contain %s"):
        validate_argv("nginx -t", "/c")


def test_backup_name_is_ansibles() -> None:
    assert backup_path("/etc/app.conf", 0).startswith("/etc/app.conf.19")
    assert backup_path("/etc/app.conf", 0).endswith("~")


def test_a_text_file_read_keeps_its_bytes() -> None:
    current = parse_text("1000 1000\n\n644 1000 1000 deploy deploy regular file\nYcOp\n",
                         "/f")
    assert current.old_content == b"a\xc3\xa9" and current.state.kind == "file"
    missing = parse_text("1000 1000\n\n\n", "/f")
    assert missing.old_content is None and not missing.state.exists


# --- apt's cache -------------------------------------------------------------------------------

def test_a_cache_refresh_alone_is_the_change_and_a_fresh_cache_is_none() -> None:
    refreshed = parse_packages("apt\ncache:refreshed\n", [])
    assert refreshed.cache == "refreshed"
    assert as_change(compare_packages([], "present", refreshed), refreshed.cache,
                     has_names=False).what == ("refresh the package cache",)
    fresh = CurrentPackages("apt", frozenset(), cache="fresh")
    assert not as_change(compare_packages([], "present", fresh), fresh.cache, False).is_needed
    with_names = parse_packages("apt\ncache:refreshed\ncurl\tii \n", ["curl"])
    assert with_names.installed == {"curl"}
    assert not as_change(compare_packages(["curl"], "present", with_names), "refreshed",
                         True).is_needed
