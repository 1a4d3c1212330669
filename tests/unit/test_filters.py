"""Ansible's filters, tests and lookups render as Ansible's documentation shows them
(docs.ansible.com: "Using filters to manipulate data", the builtin test and lookup pages);
password hashes as glibc's crypt(3) computes them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.filters import FilterError
from engine.sha_crypt import sha_crypt
from engine.templating import render_text

DATA = Path(__file__).parent.parent / "data" / "filters"


def rendered(template: str, **scope: Any) -> Any:
    """(A result whose type matters reads a variable: Jinja folds an expression of literals
    into text when it compiles the template.)"""
    return render_text(template, scope)


@pytest.mark.parametrize(("value", "expected"), [
    ("yes", True), ("on", True), ("1", True), ("True", True), (1, True), (True, True),
    ("no", False), ("off", False), ("0", False), ("false", False), ("anything", False),
    (0, False),
])
def test_bool_reads_ansibles_truthy_words(value: Any, expected: bool) -> None:
    assert rendered("{{ value | bool }}", value=value) is expected


def test_to_json_and_to_nice_json() -> None:
    value = {"b": [1, 2], "a": "x"}
    assert rendered("{{ value | to_json }}", value=value) == '{"b": [1, 2], "a": "x"}'
    assert rendered("{{ value | to_nice_json }}", value=value) == (
        '{\n    "a": "x",\n    "b": [\n        1,\n        2\n    ]\n}')
    assert rendered("{{ value | to_nice_json(indent=2) }}", value={"a": 1}) == '{\n  "a": 1\n}'


def test_to_yaml_and_to_nice_yaml() -> None:
    value = {"b": [1, 2], "a": {"c": "é"}}
    assert rendered("{{ value | to_yaml }}", value=value) == "a: {c: é}\nb: [1, 2]\n"
    assert rendered("{{ value | to_nice_yaml }}", value=value) == (
        "a:\n    c: é\nb:\n- 1\n- 2\n")


def test_to_yaml_writes_the_mappings_the_yaml_loader_made(tmp_path: Path) -> None:
    from engine.yamlfile import load_yaml

    loaded = load_yaml("a:\n  b: [1]\n", "vars.yml")
    assert rendered("{{ value | to_yaml }}", value=loaded) == "a:\n  b: [1]\n"


def test_from_json_and_from_yaml() -> None:
    assert rendered("{{ (v | from_json).a }}", v='{"a": [1, 2]}') == [1, 2]
    assert rendered("{{ (v | from_yaml).a[1] }}", v="a: [1, 2]") == 2
    with pytest.raises(FilterError, match="from_json: not JSON"):
        rendered("{{ 'nope' | from_json }}")


def test_from_yaml_builds_no_python_objects() -> None:
    with pytest.raises(FilterError, match="from_yaml"):
        rendered("{{ '!!python/object/apply:os.system [id]' | from_yaml }}")


@pytest.mark.parametrize(("template", "expected"), [
    ("{{ 'ansible' | regex_replace('^a.*i(.*)$', 'a\\\\1') }}", "able"),
    ("{{ 'foobar' | regex_replace('^f.*o(.*)$', '\\\\1') }}", "bar"),
    ("{{ 'localhost:80' | regex_replace('^(?P<host>.+):(?P<port>\\\\d+)$', "
     "'\\\\g<host>, \\\\g<port>') }}", "localhost, 80"),
    ("{{ 'localhost:80' | regex_replace(':80') }}", "localhost"),
    ("{{ 'AbA' | regex_replace('a', 'x', ignorecase=True) }}", "xbx"),
    ("{{ 'aaa' | regex_replace('a', 'b', count=2) }}", "bba"),
])
def test_regex_replace(template: str, expected: str) -> None:
    assert rendered(template) == expected


def test_regex_replace_mandatory_count() -> None:
    with pytest.raises(FilterError, match="should match 2 times, but matches 1 times"):
        rendered("{{ 'ab' | regex_replace('a', 'x', mandatory_count=2) }}")


@pytest.mark.parametrize(("template", "expected"), [
    ("{{ 'server1/database42' | regex_search('database[0-9]+') }}", "database42"),
    ("{{ 'foo\\nBAR' | regex_search('^bar', multiline=True, ignorecase=True) }}", "BAR"),
    ("{{ v | regex_search('server([0-9]+)/database([0-9]+)', '\\\\1', '\\\\2') }}",
     ["1", "42"]),
    ("{{ '21/42' | regex_search('(?P<dividend>[0-9]+)/(?P<divisor>[0-9]+)', "
     "'\\\\g<dividend>', '\\\\g<divisor>') | join(' ') }}", "21 42"),
    ("{{ v | regex_search('foobar') }}", None),
])
def test_regex_search(template: str, expected: Any) -> None:
    assert rendered(template, v="server1/database42") == expected


def test_b64encode_and_b64decode() -> None:
    assert rendered("{{ 'hello' | b64encode }}") == "aGVsbG8="
    assert rendered("{{ 'aGVsbG8=' | b64decode }}") == "hello"
    assert rendered("{{ 'café' | b64encode | b64decode }}") == "café"


DEFAULT = {"a": {"x": "default", "y": "default"}, "b": "default", "c": "default"}
PATCH = {"a": {"y": "patch", "z": "patch"}, "b": "patch"}


def test_combine_replaces_nested_mappings_unless_recursive() -> None:
    assert rendered("{{ d | combine(p) }}", d=DEFAULT, p=PATCH) == {
        "a": {"y": "patch", "z": "patch"}, "b": "patch", "c": "default"}
    assert rendered("{{ d | combine(p, recursive=True) }}", d=DEFAULT, p=PATCH) == {
        "a": {"x": "default", "y": "patch", "z": "patch"}, "b": "patch", "c": "default"}
    assert DEFAULT["a"] == {"x": "default", "y": "default"}  # the inputs stay as they were


@pytest.mark.parametrize(("list_merge", "expected"), [
    ("replace", [3, 4, 5, 5]), ("keep", [1, 1, 2, 3]), ("append", [1, 1, 2, 3, 3, 4, 5, 5]),
    ("prepend", [3, 4, 5, 5, 1, 1, 2, 3]), ("append_rp", [1, 1, 2, 3, 4, 5, 5]),
    ("prepend_rp", [3, 4, 5, 5, 1, 1, 2]),
])
def test_combine_list_merge(list_merge: str, expected: list[int]) -> None:
    template = "{{ d | combine(p, list_merge=merge) }}"
    assert rendered(template, d={"a": [1, 1, 2, 3]}, p={"a": [3, 4, 5, 5]},
                    merge=list_merge) == {"a": expected}


def test_combine_takes_a_list_of_mappings() -> None:
    assert rendered("{{ v | combine }}", v=[{"a": 1}, {"b": 2}, {"a": 3}]) == {"a": 3, "b": 2}


def test_dict2items_and_items2dict() -> None:
    assert rendered("{{ v | dict2items }}", v={"a": 1, "b": 2}) == [
        {"key": "a", "value": 1}, {"key": "b", "value": 2}]
    assert rendered("{{ v | dict2items(key_name='file', value_name='path') }}",
                    v={"x": "/srv"}) == [{"file": "x", "path": "/srv"}]
    tags = [{"key": "Application", "value": "payment"}, {"key": "Environment", "value": "dev"}]
    assert rendered("{{ tags | items2dict }}", tags=tags) == {
        "Application": "payment", "Environment": "dev"}
    with pytest.raises(FilterError, match="dict2items requires a dictionary"):
        rendered("{{ [1] | dict2items }}")


def test_basename_dirname_ternary() -> None:
    assert rendered("{{ '/etc/asdf/foo.txt' | basename }}") == "foo.txt"
    assert rendered("{{ '/etc/asdf/foo.txt' | dirname }}") == "/etc/asdf"
    assert rendered("{{ (s == 'needs_restart') | ternary('restart', 'continue') }}",
                    s="needs_restart") == "restart"
    assert rendered("{{ v | ternary('yes', 'no', 'unset') }}", v=None) == "unset"
    assert rendered("{{ v | ternary('yes', 'no') }}", v=None) == "no"


def test_mandatory_names_the_missing_variable_or_says_the_message() -> None:
    with pytest.raises(FilterError, match=r"Mandatory variable 'nope' not defined\."):
        rendered("{{ nope | mandatory }}")
    with pytest.raises(FilterError, match=r"^set app_port with -e$"):
        rendered("{{ nope | mandatory('set app_port with -e') }}")
    assert rendered("{{ port | mandatory }}", port=8080) == 8080


def test_quote_and_hash() -> None:
    assert rendered("{{ v | quote }}", v=None) == "''"
    assert rendered("{{ 'test1' | hash('sha1') }}") == "b444ac06613fc8d63795be9ad0beaf55011936ac"
    assert rendered("{{ 'test1' | hash('md5') }}") == "5a105e8b9d40e1329780d62ea2265d8a"
    assert rendered("{{ 'test1' | hash }}") == "b444ac06613fc8d63795be9ad0beaf55011936ac"


# The specification's test vectors ("Unix crypt using SHA-256 and SHA-512", U. Drepper),
# which glibc's crypt(3) gives as well.
@pytest.mark.parametrize(("scheme", "salt", "rounds", "expected"), [
    ("sha512_crypt", "saltstring", None,
     "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCo"
     "EOfaS35inz1"),
    ("sha512_crypt", "saltstringsaltstring", 10000,
     "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8v"
     "OuZeHBy/YTBmSK6H9qs/y3RnOaw5v."),
    ("sha256_crypt", "saltstring", None,
     "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"),
    ("sha256_crypt", "saltstringsaltstring", 10000,
     "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"),
])
def test_sha_crypt_matches_the_specifications_vectors(scheme: str, salt: str,
                                                       rounds: int | None, expected: str) -> None:
    assert sha_crypt("Hello world!", salt, scheme, rounds) == expected


def test_password_hash_filter() -> None:
    assert rendered("{{ 'Hello world!' | password_hash('sha512', 'saltstring') }}") == (
        sha_crypt("Hello world!", "saltstring", "sha512_crypt"))
    assert rendered("{{ 'pw' | password_hash('sha512', 'abc', rounds=5000) }}").startswith(
        "$6$rounds=5000$abc$")
    random_salted = rendered("{{ 'pw' | password_hash }}")
    assert random_salted.startswith("$6$") and len(random_salted.split("$")[2]) == 16
    with pytest.raises(FilterError, match="'blowfish' is not supported here; use 'sha512'"):
        rendered("{{ 'pw' | password_hash('blowfish') }}")
    with pytest.raises(FilterError, match="a salt is letters, digits"):
        rendered("{{ 'pw' | password_hash('sha512', 'bad$salt') }}")


# --- tests on registered results --------------------------------------------------------------


@pytest.mark.parametrize(("result", "truths"), [
    ({"changed": True, "failed": False}, {"changed", "succeeded", "success"}),
    ({"changed": False, "failed": True}, {"failed"}),
    ({"changed": False, "skipped": True}, {"skipped", "succeeded", "success"}),
    ({"results": [{"changed": False}, {"changed": True}]}, {"changed", "succeeded", "success"}),
])
def test_result_tests(result: dict[str, Any], truths: set[str]) -> None:
    for test in ("changed", "failed", "succeeded", "success", "skipped"):
        assert rendered(f"{{{{ r is {test} }}}}", r=result) is (test in truths), test


def test_result_tests_need_a_result() -> None:
    with pytest.raises(FilterError, match="The 'failed' test expects a dictionary"):
        rendered("{{ 'x' is failed }}")


# --- lookups ---------------------------------------------------------------------------------


def test_env_lookup_and_query(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAY_A", "one")
    monkeypatch.setenv("PLAY_B", "two")
    monkeypatch.delenv("PLAY_UNSET", raising=False)
    assert rendered("{{ lookup('env', 'PLAY_A') }}") == "one"
    assert rendered("{{ lookup('env', 'PLAY_A', 'PLAY_B') }}") == "one,two"
    assert rendered("{{ query('env', 'PLAY_A', 'PLAY_B') }}") == ["one", "two"]
    assert rendered("{{ q('env', 'PLAY_A') }}") == ["one"]
    assert rendered("{{ lookup('env', 'PLAY_A', wantlist=True) }}") == ["one"]
    assert rendered("{{ lookup('env', 'PLAY_UNSET') }}") == ""
    assert rendered("{{ lookup('env', 'PLAY_UNSET', default='dflt') }}") == "dflt"


def test_file_lookup_reads_beside_the_playbook_without_trailing_space() -> None:
    assert rendered("{{ lookup('file', 'motd.txt') }}", playbook_dir=str(DATA)) == (
        "line one\nline two")
    with pytest.raises(FilterError, match=r"the 'file' lookup found no file 'nope\.txt'"):
        rendered("{{ lookup('file', 'nope.txt') }}", playbook_dir=str(DATA))


def test_template_lookup_renders_with_the_callers_variables() -> None:
    assert rendered("{{ lookup('template', 'upstream.j2') }}", playbook_dir=str(DATA),
                    app="api", address="10.0.0.5", port=8080) == (
        "upstream api { server 10.0.0.5:8080; }\n")


def test_unknown_lookup_names_the_ones_play_has() -> None:
    with pytest.raises(FilterError, match="lookup 'password' is not supported; play has 'env', "
                                          "'file', 'template'"):
        rendered("{{ lookup('password', '/tmp/x') }}")


def test_an_unknown_lookup_is_refused_before_the_run() -> None:
    import jinja2

    from engine.templating import names_in_template

    with pytest.raises(jinja2.TemplateSyntaxError, match="lookup 'pipe' is not supported"):
        names_in_template("{{ lookup('pipe', 'touch /tmp/x') }}")
    assert names_in_template("{{ lookup('env', 'HOME') }} {{ q('file', x) }}") == (("x", 1),)
