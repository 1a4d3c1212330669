"""Registry records and settings: the JSON a record round-trips through, the names a
record may carry, and the `registry:` mapping's errors with their location."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from engine.commands.options import option_names
from engine.errors import InputError, Location
from engine.names import instance_id
from engine.registry import Instance, RegistryConfig, registry_config
from engine.registry.config import default_owner, owner_of, read_password
from engine.registry.lock import LockRecord, describe_holder, is_stale
from engine.registry.model import MAX_ITEMS, MAX_TEXT, LockOwner

WHERE = Location("deploy.yml", 7)


def an_instance(**changes: object) -> Instance:
    fields: dict[str, object] = {
        "service": "api", "instance": "api@lab1", "host": "lab1", "address": "10.250.0.11",
        "port": 8080, "tags": ("http", "v2"), "meta": {"version": "2"}, "container": "api",
        "image_id": "sha256:abc", "registered_at": "2024-05-01T12:00:00Z"}
    fields.update(changes)
    return Instance(**fields)  # type: ignore[arg-type]


def test_instance_survives_a_json_round_trip() -> None:
    instance = an_instance()
    assert Instance.from_json(instance.to_json()) == instance


def test_record_holds_exactly_the_documented_fields() -> None:
    record = json.loads(an_instance().to_json())
    assert sorted(record) == sorted(["service", "instance", "host", "address", "port", "tags",
                                     "meta", "container", "image_id", "registered_at"])


def test_record_meta_cannot_change_behind_its_back() -> None:
    meta = {"version": "2"}
    instance = an_instance(meta=meta)
    meta["version"] = "3"
    assert instance.meta == {"version": "2"}


@pytest.mark.parametrize(("text", "says"), [
    ("{", "not valid JSON"),
    ("[]", "not a JSON object"),
    ('{"service": "api"}', "missing"),
    (an_instance().to_json().replace('"port": 8080', '"port": "8080"'), "port"),
    (an_instance().to_json().replace('"version": "2"', '"version": 2'), "meta"),
    (an_instance().to_json().replace('"api@lab1"', '"../x"'), "instance name"),
])
def test_broken_record_is_a_value_error_saying_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        Instance.from_json(text)


def test_unknown_record_fields_are_ignored_for_newer_writers() -> None:
    record = json.loads(an_instance().to_json())
    record["weight"] = 3
    assert Instance.from_json(json.dumps(record)) == an_instance()


@pytest.mark.parametrize("name", ["", "a/b", "..", ".", ".locks", "a\0b", "a\nb", "x" * 201])
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        an_instance(service=name)
    with pytest.raises(ValueError):
        an_instance(instance=name)


@pytest.mark.parametrize("name", ["api", "api@lab1", "my service", "a;$(b)'\"", "é", "x" * 200])
def test_names_with_spaces_quotes_and_unicode_are_fine(name: str) -> None:
    assert an_instance(instance=name).instance == name


def test_instance_id_is_service_at_host() -> None:
    assert instance_id("api", "lab1") == "api@lab1"
    with pytest.raises(ValueError):
        instance_id("api", "a/b")


def test_no_registry_mapping_means_a_file_registry_on_the_control_node() -> None:
    assert registry_config(None, WHERE) == RegistryConfig()
    assert RegistryConfig().host is None


def test_etcd_settings_are_read() -> None:
    config = registry_config({"backend": "etcd", "endpoints": "http://10.0.0.5:2379",
                              "prefix": "/team/", "ttl": 60}, WHERE)
    assert (config.endpoints, config.prefix, config.ttl) == (
        ("http://10.0.0.5:2379",), "/team", 60)


@pytest.mark.parametrize(("raw", "says"), [
    ("etcd", "registry must be a mapping"),
    ({"backend": "etdc"}, "did you mean 'etcd'"),
    ({"backend": "file", "rooot": "/x"}, "unknown registry setting 'rooot'; did you mean 'root'"),
    ({"backend": "file", "prefix": "/x"}, "belongs to the etcd backend"),
    ({"backend": "etcd", "root": "/x"}, "belongs to the file backend"),
    ({"root": "relative/dir"}, "absolute directory path"),
    ({"host": 3}, "inventory host name"),
    ({"become": "yes"}, "true or false"),
    ({"backend": "etcd", "endpoints": ["10.0.0.5:2379"]}, "http://HOST:PORT"),
    ({"backend": "etcd", "endpoints": ["http://10.0.0.5"]}, "http://HOST:PORT"),
    ({"backend": "etcd", "endpoints": []}, "list of URLs"),
    ({"backend": "etcd", "prefix": "play"}, "starting with '/'"),
    ({"backend": "etcd", "ttl": -1}, "whole number of seconds"),
    ({"backend": "etcd", "ttl": True}, "whole number of seconds"),
])
def test_bad_registry_settings_name_the_file_and_line(raw: object, says: str) -> None:
    with pytest.raises(InputError) as caught:
        registry_config(raw, WHERE)  # type: ignore[arg-type]
    assert str(caught.value).startswith("deploy.yml:7: ")
    assert says in str(caught.value)


def test_lock_owner_record_round_trips_and_describes_the_holder() -> None:
    owner = LockOwner("root", 1234, "ctl", "2024-05-01T12:00:00Z", "play", "deploy.yml",
                      ("-i", "-e"), "boot-1")
    record = LockRecord.new(owner)
    assert LockRecord.from_json(record.to_json()) == record
    assert describe_holder(record.to_json()) == (
        "root pid 1234 on ctl since 2024-05-01T12:00:00Z (play deploy.yml, options -i -e)")


def test_an_unreadable_owner_record_is_never_quoted() -> None:
    # what the sudo-password bug left as owner.json's first line
    said = describe_holder("hunter2-the-password\n{\"user\": ")
    assert "unknown owner" in said and "hunter2" not in said


def test_an_older_owner_record_with_the_whole_command_line_shows_no_value() -> None:
    old = json.dumps({"user": "ops", "pid": 7, "control_host": "ctl",
                      "started_at": "2024-05-01T12:00:00Z", "token": "t",
                      "command": "play deploy.yml -e db_password=VALUE"})
    said = describe_holder(old)
    assert "VALUE" not in said and said.startswith("ops pid 7 on ctl")


def test_the_lock_records_option_names_and_never_their_values() -> None:
    argv = ["deploy.yml", "-i", "inv.yml", "-e", "secret=VALUE", "--extra-vars=pw=VALUE",
            "-epw=VALUE", "-e", "@VALUE.yml", "--lock-timeout", "30", "--", "-eVALUE"]
    names = option_names(argv)
    assert names == ("-i", "-e", "--extra-vars", "--lock-timeout")
    owner = LockOwner.current("play", "deploy.yml", names)
    assert "VALUE" not in LockRecord.new(owner).to_json()


def test_only_a_vanished_local_process_makes_a_lock_stale() -> None:
    here = LockOwner.current("play")
    assert here.boot_id  # Linux: /proc/sys/kernel/random/boot_id
    assert not is_stale(here)
    assert not is_stale(dataclasses.replace(here, control_host="another-control-node"))
    reused = dataclasses.replace(here, pid=1, started_at="2000-01-01T00:00:00Z", boot_id="")
    assert is_stale(reused)  # pid 1 started long after this lock's start time


def test_a_lock_of_an_earlier_boot_is_stale_even_when_its_pid_runs_again() -> None:
    here = LockOwner.current("play")  # our own pid: alive
    assert is_stale(dataclasses.replace(here, boot_id="0f0e0d0c-earlier-boot"))
    # another control node's boot id means nothing here
    assert not is_stale(dataclasses.replace(here, control_host="elsewhere", boot_id="x"))


# -- what a record may carry (checked when made and when read) --------------------------

@pytest.mark.parametrize("address", ["10.250.0.11", "::1", "fe80::1%eth0", "web1",
                                     "web-1.example.com", "web_1.lab.", "a" * 63])
def test_addresses_are_ip_addresses_or_host_names(address: str) -> None:
    assert Instance.from_json(an_instance(address=address).to_json()).address == address


@pytest.mark.parametrize("address", [
    "", "10.0.0.1:80", "http://evil.example/", "evil;rm -rf /", "a b", "-web", "web-",
    "x\ny", "{{ 7*7 }}", "a" * 64, ".".join(["a"] * 200), "10.0.0.1 backup",
])
def test_a_forged_address_makes_the_record_unreadable(address: str) -> None:
    with pytest.raises(ValueError, match="address must be an IP address or a host name"):
        an_instance(address=address)
    forged = json.loads(an_instance().to_json())
    forged["address"] = address
    with pytest.raises(ValueError, match="address"):
        Instance.from_json(json.dumps(forged))


@pytest.mark.parametrize(("field", "value", "says"), [
    ("tags", "http", "tags must be a list of strings"),
    ("tags", [["nested"]], "tags must be a list of strings"),
    ("tags", ["x"] * (MAX_ITEMS + 1), "at most 1024 entries"),
    ("tags", ["x" * (MAX_TEXT + 1)], "at most 16384 characters"),
    ("meta", {"a": {"b": "c"}}, "meta must be an object of strings"),
    ("meta", ["a"], "meta must be an object of strings"),
    ("meta", {"a": "x" * (MAX_TEXT + 1)}, "at most 16384 characters"),
    ("port", 0, "port must be a number from 1 to 65535"),
    ("port", 65536, "port must be a number from 1 to 65535"),
    ("owner", 7, "owner must be a string"),
    ("owner", "a/b", "owner name"),
])
def test_tags_meta_port_and_owner_are_checked_when_read(field: str, value: object,
                                                         says: str) -> None:
    forged = json.loads(an_instance().to_json())
    forged[field] = value
    with pytest.raises(ValueError, match=says):
        Instance.from_json(json.dumps(forged))


def test_a_records_owner_round_trips_and_is_absent_when_unset() -> None:
    mine = an_instance(owner="web-team")
    assert Instance.from_json(mine.to_json()) == mine
    assert json.loads(mine.to_json())["owner"] == "web-team"
    assert "owner" not in json.loads(an_instance().to_json())


# -- owner and etcd access settings ----------------------------------------------------

def test_the_default_owner_is_the_projects_folder_name(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    (project / "inventory").mkdir(parents=True)
    (project / "inventory" / "hosts.yml").write_text("all: {}\n")
    (project / "hosts.ini").write_text("")
    assert default_owner([str(project / "inventory" / "hosts.yml")]) == "shop"
    assert default_owner([str(project / "inventory")]) == "shop"
    assert default_owner([str(project / "hosts.ini")]) == "shop"
    assert default_owner([]) == "play"
    config = registry_config({"owner": "web-team"}, WHERE)
    assert owner_of(config, [str(project / "hosts.ini")]) == "web-team"
    assert owner_of(RegistryConfig(), [str(project / "hosts.ini")]) == "shop"


def test_etcd_authentication_and_tls_settings_are_read(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("pw", "ca.pem", "client.pem", "client.key"):
        (tmp_path / name).write_text("x\n")
    monkeypatch.setenv("PLAY_TEST_ETCD_PW", "s3cret-from-env")
    config = registry_config({
        "backend": "etcd", "endpoints": ["https://10.0.0.5:2379"], "user": "deployer",
        "password_file": str(tmp_path / "pw"), "ca_file": str(tmp_path / "ca.pem"),
        "cert_file": str(tmp_path / "client.pem"), "key_file": str(tmp_path / "client.key")},
        WHERE)
    assert (config.user, config.password_file, config.ca_file, config.cert_file,
            config.key_file) == ("deployer", str(tmp_path / "pw"), str(tmp_path / "ca.pem"),
                                 str(tmp_path / "client.pem"), str(tmp_path / "client.key"))
    (tmp_path / "pw").write_text("s3cret-from-file\n")
    assert read_password(config) == "s3cret-from-file"
    from_env = registry_config({"backend": "etcd", "user": "deployer",
                                "password_env": "PLAY_TEST_ETCD_PW"}, WHERE)
    assert read_password(from_env) == "s3cret-from-env"
    assert "s3cret" not in repr(from_env) + repr(config)


@pytest.mark.parametrize(("raw", "says"), [
    ({"password": "hunter2"}, "cannot be written in a playbook or inventory"),
    ({"user": "root"}, "needs user and exactly one of password_file and password_env"),
    ({"password_env": "X"}, "needs user and exactly one of"),
    ({"user": "root", "password_env": "X", "password_file": "/etc/hostname"},
     "exactly one of"),
    ({"user": "root", "password_env": "PLAY_TEST_UNSET_VARIABLE"},
     "environment variable PLAY_TEST_UNSET_VARIABLE is not set"),
    ({"user": "root", "password_env": "not a name"}, "must name an environment variable"),
    ({"user": "root", "password_file": "/nonexistent/pw"}, "cannot read /nonexistent/pw"),
    ({"user": "root", "password_file": "relative/pw"}, "absolute file path"),
    ({"endpoints": ["https://h:2379"], "cert_file": "/etc/hostname"}, "go together"),
    ({"endpoints": ["http://h:2379"], "ca_file": "/etc/hostname"}, "need https endpoints"),
    ({"owner": "a/b"}, "registry owner"),
    ({"owner": "(unowned)"}, "reserved"),
])
def test_bad_etcd_access_settings_are_refused_before_anything_runs(
        raw: dict[str, object], says: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLAY_TEST_UNSET_VARIABLE", raising=False)
    with pytest.raises(InputError) as caught:
        registry_config({"backend": "etcd", **raw}, WHERE)
    assert str(caught.value).startswith("deploy.yml:7: ")
    assert says in str(caught.value)
    assert "hunter2" not in str(caught.value)
