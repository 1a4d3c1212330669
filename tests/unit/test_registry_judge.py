"""`play registry check`: which records are stale (the pure `judge`), the exit status,
and the whole command against a local-connection host whose `docker` is a fake script."""

from __future__ import annotations

import dataclasses
import json
import stat
import sys
from pathlib import Path

import pytest
import yaml

from engine.cli import main
from engine.commands.registry_check import (
    Finding,
    NotInInventory,
    Unverifiable,
    Verdict,
    exit_status,
    format_table,
    judge,
)
from engine.containers.facts import CurrentContainer, HostFacts, facts_command
from engine.errors import EXIT_DRIFT, EXIT_INVALID, EXIT_LOCK_BUSY, EXIT_OK, EXIT_UNREACHABLE
from engine.registry import Instance

IMAGE = "sha256:" + "ab" * 32
OTHER_IMAGE = "sha256:" + "cd" * 32


def a_record(host: str = "lab1", container: str = "api", image_id: str = IMAGE) -> Instance:
    return Instance(service="api", instance=f"api@{host}", host=host, address="10.250.0.11",
                    port=8080, tags=("http",), meta={}, container=container,
                    image_id=image_id, registered_at="2024-05-01T12:00:00Z")


def a_container(name: str = "api", status: str = "running", health: str | None = "healthy",
                image_id: str = IMAGE, is_managed: bool = True,
                health_output: str = "") -> CurrentContainer:
    labels = {"play.managed": "true"} if is_managed else {"team": "other"}
    return CurrentContainer(id="c0ffee" * 10, name=name, labels=labels, status=status,
                            health=health, image_id=image_id, health_output=health_output)


def facts(*containers: CurrentContainer) -> HostFacts:
    return HostFacts({container.name: container for container in containers}, {})


# -- judge -------------------------------------------------------------------------------

def test_a_running_healthy_container_with_the_recorded_image_is_ok() -> None:
    assert judge(a_record(), facts(a_container())) == Verdict("ok", "")


def test_a_container_without_a_health_check_that_runs_is_ok() -> None:
    assert judge(a_record(), facts(a_container(health=None))).state == "ok"


def test_a_missing_container_is_stale() -> None:
    verdict = judge(a_record(container="ghost"), facts(a_container()))
    assert verdict == Verdict("stale", "no container ghost on lab1")


def test_an_exited_container_is_stale() -> None:
    verdict = judge(a_record(), facts(a_container(status="exited", health="unhealthy")))
    assert verdict == Verdict("stale", "container api is exited")


def test_an_unhealthy_container_is_stale_with_its_last_check_output() -> None:
    unhealthy = a_container(health="unhealthy", health_output="wget: x\nconnection refused")
    verdict = judge(a_record(), facts(unhealthy))
    assert verdict == Verdict("stale", "container api is unhealthy: connection refused")


def test_a_starting_container_is_stale_and_says_it_is_not_healthy_yet() -> None:
    verdict = judge(a_record(), facts(a_container(health="starting")))
    assert verdict == Verdict("stale", "container api is not healthy yet (starting)")


def test_another_image_is_stale_and_names_both_short_ids() -> None:
    verdict = judge(a_record(), facts(a_container(image_id=OTHER_IMAGE)))
    assert verdict == Verdict("stale", "container api runs image cdcdcdcdcdcd, "
                                       "the record says abababababab")


def test_a_container_play_does_not_manage_is_stale() -> None:
    verdict = judge(a_record(), facts(a_container(is_managed=False)))
    assert verdict == Verdict("stale", "container api is not a container play manages")


def test_a_host_missing_from_the_inventory_is_stale() -> None:
    verdict = judge(a_record(host="lab9"), NotInInventory())
    assert verdict == Verdict("stale", "host lab9 is not in the inventory")


def test_an_unreadable_host_leaves_its_records_unverified() -> None:
    verdict = judge(a_record(), Unverifiable("host unreachable (timed out)"))
    assert verdict == Verdict("unverified", "host unreachable (timed out)")


def test_container_names_docker_would_refuse_never_reach_docker_inspect() -> None:
    with pytest.raises(ValueError, match="not a Docker container name"):
        facts_command((), ["--format={{.}}"])
    assert facts_command((), ["api", "db.1"])[-2:] == ["api", "db.1"]


# -- exit status and output ----------------------------------------------------------------

OK = Finding(a_record("lab1"), Verdict("ok", ""))
STALE = Finding(a_record("lab2"), Verdict("stale", "no container api on lab2"))
REMOVED = Finding(a_record("lab2"), Verdict("stale", "no container api on lab2"),
                  is_removed=True)
UNVERIFIED = Finding(a_record("lab3"), Verdict("unverified", "host unreachable (refused)"))


@pytest.mark.parametrize(("findings", "status"), [
    ([], EXIT_OK),
    ([OK], EXIT_OK),
    ([OK, REMOVED], EXIT_OK),
    ([OK, STALE], EXIT_DRIFT),
    ([OK, UNVERIFIED], EXIT_UNREACHABLE),
    ([STALE, UNVERIFIED], EXIT_DRIFT),          # stale and not fixed wins
    ([REMOVED, UNVERIFIED], EXIT_UNREACHABLE),
])
def test_exit_status(findings: list[Finding], status: int) -> None:
    assert exit_status(findings) == status


def test_table_ends_with_the_summary() -> None:
    table = format_table([OK, REMOVED, UNVERIFIED], ["api/x.json: not valid JSON"])
    lines = table.splitlines()
    assert lines[0].split() == ["SERVICE", "INSTANCE", "HOST", "STATE", "WHY"]
    assert lines[2].split()[:4] == ["api", "api@lab2", "lab2", "removed"]
    assert lines[-2] == "warning: api/x.json: not valid JSON"
    assert lines[-1] == "3 records, 1 stale (1 removed), 1 unverified"


# -- the whole command, on a local host with a fake docker ---------------------------------

FAKE_DOCKER = '''\
import json, os, sys
containers = json.load(open(os.environ["FAKE_DOCKER_STATE"]))
args = sys.argv[1:]
if args[0] == "ps":
    for item in containers:
        if item["Config"]["Labels"].get("play.managed") == "true":
            print(item["Id"])
    sys.exit(0)
found = [item for arg in args[1:] for item in containers
         if arg in (item["Id"], item["Name"].lstrip("/"))]
print(json.dumps(found))
sys.exit(0 if len(found) == len(args) - 1 else 1)
'''


def docker_item(name: str, status: str = "running", image_id: str = IMAGE,
                is_managed: bool = True) -> dict[str, object]:
    return {"Id": f"id-{name}", "Name": f"/{name}", "Image": image_id,
            "State": {"Status": status, "Health": {"Status": "healthy", "Log": []}},
            "Config": {"Labels": {"play.managed": "true"} if is_managed else {}}}


@pytest.fixture
def local_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An inventory with one local host `here` whose Docker holds `api` (managed,
    running) and `tool` (not managed); its registry is a folder under tmp_path."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(f"#!{sys.executable}\n{FAKE_DOCKER}")
    docker.chmod(docker.stat().st_mode | stat.S_IEXEC)
    state = tmp_path / "containers.json"
    state.write_text(json.dumps([docker_item("api"), docker_item("tool", is_managed=False)]))
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_DOCKER_STATE", str(state))
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {
        "hosts": {"here": {"connection": "local"}},
        "vars": {"registry": {"root": str(tmp_path / "registry")}}}}))
    return inventory


def plant(inventory: Path, record: Instance) -> Path:
    path = inventory.parent / "registry" / record.service / f"{record.instance}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(record.to_json())
    return path


def an_instance(service: str, container: str) -> Instance:
    return Instance(service=service, instance=f"{service}@here", host="here",
                    address="127.0.0.1", port=8080, tags=(), meta={}, container=container,
                    image_id=IMAGE, registered_at="2024-05-01T12:00:00Z")


def test_check_names_stale_records_and_fix_removes_only_them(
        local_host: Path, capsys: pytest.CaptureFixture[str]) -> None:
    real = plant(local_host, an_instance("api", "api"))
    ghost = plant(local_host, an_instance("ghost", "ghost"))
    tool = plant(local_host, an_instance("tool", "tool"))

    assert main(["registry", "check", "-i", str(local_host), "--json"]) == EXIT_DRIFT
    document = json.loads(capsys.readouterr().out)
    assert {r["instance"]: (r["state"], r["why"]) for r in document["records"]} == {
        "api@here": ("ok", ""),
        "ghost@here": ("stale", "no container ghost on here"),
        "tool@here": ("stale", "container tool is not a container play manages")}
    assert (document["stale"], document["removed"], document["unverified"]) == (2, 0, 0)

    assert main(["registry", "check", "-i", str(local_host), "--fix"]) == EXIT_OK
    summary = capsys.readouterr().out.splitlines()[-1]
    assert summary == "3 records, 2 stale (2 removed), 0 unverified"
    assert real.exists() and not ghost.exists() and not tool.exists()
    assert not list((local_host.parent / "registry" / ".locks").iterdir())  # lock released

    assert main(["registry", "check", "-i", str(local_host)]) == EXIT_OK
    summary = capsys.readouterr().out.splitlines()[-1]
    assert summary == "1 records, 0 stale (0 removed), 0 unverified"


def test_check_of_one_service_looks_at_that_service_only(
        local_host: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plant(local_host, an_instance("api", "api"))
    plant(local_host, an_instance("ghost", "ghost"))
    assert main(["registry", "check", "api", "-i", str(local_host)]) == EXIT_OK
    assert "ghost" not in capsys.readouterr().out


def test_a_registry_that_cannot_be_read_is_exit_3(
        local_host: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry = local_host.parent / "registry"
    registry.write_text("not a directory")
    assert main(["registry", "check", "-i", str(local_host)]) == EXIT_UNREACHABLE
    assert capsys.readouterr().out.startswith("registry: ")


def test_an_unknown_option_is_invalid_input() -> None:
    assert main(["registry", "check", "--fixx"]) == EXIT_INVALID


def test_a_registry_host_missing_from_the_inventory_is_invalid_input(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {
        "hosts": {"here": {"connection": "local"}}, "vars": {"registry": {"host": "her"}}}}))
    for command in ("ls", "check"):
        assert main(["registry", command, "-i", str(inventory)]) == EXIT_INVALID
        assert "registry host 'her' is not in the inventory; did you mean 'here'?" in \
            capsys.readouterr().err


def test_fix_waits_for_the_deploy_lock_of_the_records_hosts_then_exits_5(
        local_host: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ghost = plant(local_host, an_instance("ghost", "ghost"))
    lock = local_host.parent / "registry" / ".locks" / "here"
    lock.mkdir(parents=True)
    owner = {"user": "ops", "pid": 1, "control_host": "other-control-node",
             "started_at": "2024-05-01T12:00:00Z", "command": "play deploy.yml", "token": "t"}
    (lock / "owner.json").write_text(json.dumps(owner))
    arguments = ["registry", "check", "-i", str(local_host), "--fix", "--lock-timeout", "0.2"]
    assert main(arguments) == EXIT_LOCK_BUSY
    captured = capsys.readouterr()
    assert "deploy lock on here held by ops pid 1 on other-control-node" in captured.out
    assert "waiting for the deploy lock" in captured.err
    assert ghost.exists()


def test_another_owners_records_are_listed_as_foreign_and_never_fixed(
        local_host: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Another team shares this registry: its `api` on its own host (not in this
    inventory) and its `ghost` here would both be stale by this inventory's eyes."""
    theirs = dataclasses.replace(an_instance("api", "api"), instance="api@their-host",
                                 host="their-host", owner="other-team")
    their_path = plant(local_host, theirs)
    their_ghost = plant(local_host, dataclasses.replace(an_instance("ghost", "ghost"),
                                                        owner="other-team"))
    ours = plant(local_host, dataclasses.replace(an_instance("api", "api"),
                                                 owner=local_host.parent.name))

    assert main(["registry", "check", "-i", str(local_host), "--json"]) == EXIT_OK
    document = json.loads(capsys.readouterr().out)
    assert {r["instance"]: r["state"] for r in document["records"]} == {
        "api@here": "ok", "api@their-host": "foreign", "ghost@here": "foreign"}
    assert document["foreign"] == 2
    assert main(["registry", "check", "-i", str(local_host), "--fix"]) == EXIT_OK
    assert capsys.readouterr().out.splitlines()[-1] == (
        "3 records, 0 stale (0 removed), 0 unverified, 2 foreign")
    assert their_path.exists() and their_ghost.exists() and ours.exists()
