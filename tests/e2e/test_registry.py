"""The service registry and the deploy lock on real backends: the file backend on this
machine and on lab1 over SSH, and a real etcd on loopback. The same operations must give
the same records and the same lock behaviour on each."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import etcd3gw
import pytest
from etcd_server import EtcdServer
from lab_client import Lab

from engine.connection import Connection, open_connection, settings_for
from engine.connection.local import LocalConnection
from engine.inventory import load_inventory
from engine.registry import (
    Instance,
    LockBusy,
    LockOwner,
    Registry,
    RegistryConfig,
    RegistryError,
    open_registry,
)
from engine.registry.etcd import EtcdRegistry
from engine.registry.file import FileRegistry
from engine.registry.lock import LockRecord


@dataclass
class Backend:
    name: str
    registry: Registry
    plant: Callable[[str, str, bytes], None]  # service, name, raw content: a record by hand
    connection: Connection | None = None      # the file backends' registry host
    root: str = ""                            # file: the root directory; etcd: the prefix


def an_instance(service: str = "api", host: str = "lab1", port: int = 8080,
                **changes: object) -> Instance:
    return Instance(service=service, instance=f"{service}@{host}", host=host,
                    address="10.250.0.11", port=port, tags=("http",),
                    meta={"version": str(changes.get("version", "1"))}, container=service,
                    image_id="sha256:" + "ab" * 32, registered_at="2024-05-01T12:00:00Z")


def an_owner(command: str = "play deploy.yml") -> LockOwner:
    return LockOwner.current(command)


@pytest.fixture(scope="module")
def lab1(lab: Lab) -> Iterator[Connection]:
    host = load_inventory([lab.inventory]).hosts["lab1"]
    connection = open_connection(settings_for(host))
    yield connection
    connection.close()


def file_backend(name: str, connection: Connection, root: str) -> Backend:
    def plant(service: str, record: str, content: bytes) -> None:
        connection.run(["mkdir", "-p", f"{root}/{service}"])
        assert connection.put(content, f"{root}/{service}/{record}.json").is_ok

    registry = FileRegistry(connection, root)
    return Backend(name, registry, plant, connection, root)


def etcd_client(endpoint: str) -> etcd3gw.Etcd3Client:
    return etcd3gw.client(host="127.0.0.1", port=int(endpoint.rpartition(":")[2]),
                          api_path="/v3/")


def etcd_backend(endpoint: str) -> Backend:
    prefix = f"/play-test-{uuid.uuid4().hex[:8]}"
    client = etcd_client(endpoint)

    def plant(service: str, record: str, content: bytes) -> None:
        client.put(f"{prefix}/{service}/{record}".encode(), content)

    return Backend("etcd", EtcdRegistry([endpoint], prefix), plant, root=prefix)


def make_backend(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """A fresh, empty registry of one kind; removed again when the test ends."""
    if kind == "file-local":
        chosen = file_backend(kind, LocalConnection("localhost"), str(tmp_path / "registry root"))
    elif kind == "file-lab":
        connection = request.getfixturevalue("lab1")
        chosen = file_backend(kind, connection, f"/srv/play-test-registry-{uuid.uuid4().hex[:8]}")
        request.addfinalizer(lambda: connection.run(
            ["sh", "-c", 'chmod -R u+w "$1"; rm -rf "$1"', "-", chosen.root]))
    else:
        chosen = etcd_backend(request.getfixturevalue("etcd"))
    request.addfinalizer(chosen.registry.close)
    return chosen


FILE_KINDS = ["file-local", pytest.param("file-lab", marks=pytest.mark.lab)]


@pytest.fixture(params=[*FILE_KINDS, "etcd"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return make_backend(request.param, request, tmp_path)


@pytest.fixture(params=FILE_KINDS)
def file_only(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return make_backend(request.param, request, tmp_path)


# -- records ---------------------------------------------------------------------------

def test_register_list_replace_deregister_give_the_same_records(backend: Backend) -> None:
    registry = backend.registry
    api, db = an_instance(), an_instance("db", "lab2", 5432)
    registry.register(db)
    registry.register(api)
    assert registry.instances() == [api, db]
    assert registry.instances("db") == [db]
    assert registry.instances("nothing") == []

    replaced = an_instance(port=9090, version="2")
    registry.register(replaced)
    assert registry.instances("api") == [replaced]

    registry.deregister("api", "api@lab1")
    registry.deregister("api", "api@lab1")  # absent is fine
    assert registry.instances() == [db]


def test_names_with_spaces_and_shell_characters_arrive_verbatim(backend: Backend) -> None:
    odd = an_instance("my api; $(touch play-pwned) 'x' `id`", "lab 1 \"a\" *")
    backend.registry.register(odd)
    assert backend.registry.instances(odd.service) == [odd]
    assert not os.path.exists("play-pwned")


def test_a_broken_record_is_reported_with_its_path(backend: Backend) -> None:
    good = an_instance()
    backend.registry.register(good)
    backend.plant("api", "api@lab9", b'{"service": "api", "port": ')
    scan = backend.registry.scan()
    assert scan.instances == [good]
    assert len(scan.problems) == 1
    assert "api/api@lab9" in scan.problems[0] and "not valid JSON" in scan.problems[0]
    with pytest.raises(RegistryError, match=r"1 broken record.*api/api@lab9"):
        backend.registry.instances()


def test_a_record_under_the_wrong_name_is_reported(backend: Backend) -> None:
    backend.plant("api", "api@lab2", an_instance().to_json().encode())
    assert "does not match" in backend.registry.scan().problems[0]


def test_listing_is_one_remote_command(file_only: Backend) -> None:
    for host in ("lab1", "lab2", "lab3"):
        file_only.registry.register(an_instance(host=host))
        file_only.registry.register(an_instance("db", host))
    assert file_only.connection is not None
    before = file_only.connection.commands_run
    assert len(file_only.registry.instances()) == 6
    assert file_only.connection.commands_run == before + 1


@pytest.mark.lab
def test_a_failing_write_keeps_the_old_record_on_a_read_only_directory(lab1: Connection,
                                                                        ) -> None:
    root = f"/srv/play-test-registry-{uuid.uuid4().hex[:8]}"
    registry = FileRegistry(lab1, root)
    try:
        old = an_instance()
        registry.register(old)
        assert lab1.run(["chmod", "0555", f"{root}/api"]).is_ok
        with pytest.raises(RegistryError, match=r"on lab1: cannot write api/api@lab1.json: "
                                                r".*Permission denied"):
            registry.register(an_instance(port=9999))
        assert registry.instances() == [old]
        assert lab1.run(["sh", "-c", 'ls -a "$1"', "-", f"{root}/api"]).stdout.split() == [
            ".", "..", "api@lab1.json"]  # no temporary file left behind
    finally:
        lab1.run(["sh", "-c", 'chmod -R u+w "$1"; rm -rf "$1"', "-", root])


def test_a_failing_write_keeps_the_old_record_on_an_immutable_directory(tmp_path: Path,
                                                                         ) -> None:
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        pytest.skip("needs root and chattr (an immutable directory stops even root)")
    registry = FileRegistry(LocalConnection("localhost"), str(tmp_path))
    old = an_instance()
    registry.register(old)
    if subprocess.run(["chattr", "+i", str(tmp_path / "api")]).returncode != 0:
        pytest.skip("this filesystem has no immutable flag")
    try:
        with pytest.raises(RegistryError, match=r"cannot write api/api@lab1\.json"):
            registry.register(an_instance(port=9999))
    finally:
        subprocess.run(["chattr", "-i", str(tmp_path / "api")], check=True)
    assert registry.instances() == [old]


def test_a_file_in_the_way_is_a_registry_error(tmp_path: Path) -> None:
    (tmp_path / "api").write_text("not a directory")
    registry = FileRegistry(LocalConnection("localhost"), str(tmp_path))
    with pytest.raises(RegistryError, match=rf"file registry {tmp_path} on localhost: "
                                            "cannot write api/api@lab1.json"):
        registry.register(an_instance())
    assert (tmp_path / "api").read_text() == "not a directory"


def test_open_registry_uses_the_control_node_by_default(tmp_path: Path) -> None:
    def no_host(host: str) -> Connection:
        raise AssertionError(f"the control node's registry needs no inventory host ({host})")

    registry = open_registry(RegistryConfig(root=str(tmp_path)), no_host)
    registry.register(an_instance())
    assert (tmp_path / "api" / "api@lab1.json").is_file()
    registry.close()


def test_unreachable_etcd_is_a_registry_error_naming_the_endpoint() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{probe.getsockname()[1]}"
    registry = EtcdRegistry([endpoint], "/play")
    with pytest.raises(RegistryError, match=rf"{endpoint}: Connection refused.*check that "
                                            "etcd runs"):
        registry.instances()


def test_etcd_records_with_a_ttl_expire_after_the_run_ends(etcd: str) -> None:
    registry = EtcdRegistry([etcd], f"/play-test-{uuid.uuid4().hex[:8]}", ttl=2)
    registry.register(an_instance())
    time.sleep(3)  # longer than the TTL: the run's keeper renews the lease meanwhile
    assert registry.instances() == [an_instance()]
    registry.close()
    deadline = time.monotonic() + 15
    while registry.instances() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert registry.instances() == []


# -- the deploy lock -------------------------------------------------------------------

def test_second_locker_waits_then_gets_lock_busy_naming_the_holder(backend: Backend) -> None:
    first = an_owner("play deploy.yml")
    held = backend.registry.lock(["lab2", "lab1"], first, 0, print)
    heard: list[str] = []
    started = time.monotonic()
    with pytest.raises(LockBusy) as caught:
        backend.registry.lock(["lab1"], an_owner("play other.yml"), 1.0, heard.append)
    assert time.monotonic() - started >= 1.0
    assert f"deploy lock on lab1 held by {first.describe()}" in str(caught.value)
    assert len(heard) == 1 and heard[0].startswith("waiting for the deploy lock on lab1")
    held.release()
    held.release()  # a second release does nothing


def test_a_released_lock_can_be_taken(backend: Backend) -> None:
    held = backend.registry.lock(["lab1"], an_owner(), 0, print)
    held.release()
    backend.registry.lock(["lab1"], an_owner(), 0, print).release()


def test_a_busy_host_leaves_none_of_the_others_locked(backend: Backend) -> None:
    held = backend.registry.lock(["lab2"], an_owner(), 0, print)
    with pytest.raises(LockBusy, match="lab2"):
        backend.registry.lock(["lab1", "lab2", "lab3"], an_owner(), 0, print)
    backend.registry.lock(["lab1", "lab3"], an_owner(), 0, print).release()
    held.release()


def test_five_racers_hold_the_lock_one_at_a_time(backend: Backend) -> None:
    holding, most, rounds = 0, 0, []
    counter = threading.Lock()

    def race(number: int) -> None:
        nonlocal holding, most
        for _ in range(2):
            held = backend.registry.lock(["lab1"], an_owner(f"racer {number}"), 60, print)
            with counter:
                holding += 1
                most = max(most, holding)
            time.sleep(0.05)
            with counter:
                holding -= 1
            rounds.append(number)
            held.release()

    racers = [threading.Thread(target=race, args=(number,)) for number in range(5)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=120)
    assert sorted(rounds) == sorted([*range(5), *range(5)])
    assert most == 1


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def plant_lock(backend: Backend, host: str, owner: LockOwner) -> None:
    assert backend.connection is not None
    lock = f"{backend.root}/.locks/{host}"
    assert backend.connection.run(["mkdir", "-p", lock]).is_ok
    assert backend.connection.put(LockRecord.new(owner).to_json().encode(),
                                  f"{lock}/owner.json").is_ok


def test_a_stale_file_lock_of_a_vanished_process_is_taken_over(file_only: Backend) -> None:
    gone = LockOwner("root", dead_pid(), socket.gethostname(), an_owner().started_at, "play x")
    plant_lock(file_only, "lab1", gone)
    heard: list[str] = []
    held = file_only.registry.lock(["lab1", "lab2"], an_owner(), 0, heard.append)
    assert heard == [f"taking over stale deploy lock on lab1 held by {gone.describe()}: "
                     "that process is gone"]
    held.release()


def test_a_file_lock_from_another_control_node_is_never_stale(file_only: Backend) -> None:
    elsewhere = LockOwner("ops", dead_pid(), "other-control-node", "2024-05-01T12:00:00Z", "")
    plant_lock(file_only, "lab1", elsewhere)
    with pytest.raises(LockBusy, match=r"held by ops pid \d+ on other-control-node.*"
                                       r"lock directory .*/\.locks/lab1"):
        file_only.registry.lock(["lab1"], an_owner(), 0.3, print)


def test_an_etcd_lock_is_renewed_while_held(etcd: str) -> None:
    registry = EtcdRegistry([etcd], f"/play-test-{uuid.uuid4().hex[:8]}", lock_ttl=2)
    held = registry.lock(["lab1"], an_owner(), 0, print)
    time.sleep(4)  # twice the TTL
    with pytest.raises(LockBusy):
        registry.lock(["lab1"], an_owner(), 0, print)
    assert held.lost() is None
    held.release()
    registry.lock(["lab1"], an_owner(), 0, print).release()


def test_an_etcd_lock_of_a_dead_run_frees_itself_when_its_lease_expires(etcd: str) -> None:
    prefix = f"/play-test-{uuid.uuid4().hex[:8]}"
    client = etcd_client(etcd)
    dead = LockOwner("root", 4242, "gone-control-node", "2024-05-01T12:00:00Z", "play x")
    # what a run leaves behind when it dies: its key on a lease nobody renews
    assert client.create(f"{prefix}/.locks/lab1".encode(),
                         LockRecord.new(dead).to_json().encode(), client.lease(ttl=2))
    heard: list[str] = []
    started = time.monotonic()
    held = EtcdRegistry([etcd], prefix).lock(["lab1"], an_owner(), 20, heard.append)
    assert time.monotonic() - started < 10
    assert heard == [f"waiting for the deploy lock on lab1 held by {dead.describe()}"]
    held.release()
    assert client.get_prefix(f"{prefix}/.locks/") == []


def test_lock_keys_do_not_show_as_records(backend: Backend) -> None:
    held = backend.registry.lock(["lab1"], an_owner(), 0, print)
    assert backend.registry.scan().problems == []
    held.release()


def test_an_etcd_lock_value_holds_only_the_owner(etcd: str) -> None:
    backend = etcd_backend(etcd)
    held = backend.registry.lock(["lab1"], an_owner(), 0, print)
    value = etcd_client(etcd).get(f"{backend.root}/.locks/lab1".encode())[0]
    assert sorted(json.loads(value)) == [
        "boot_id", "command", "control_host", "options", "pid", "playbook", "started_at",
        "token", "user"]
    held.release()


# -- etcd authentication ---------------------------------------------------------------

ROOT_PASSWORD = f"etcd-pw-{uuid.uuid4().hex}"


def enable_etcd_auth(endpoint: str) -> None:
    env = {**os.environ, "ETCDCTL_API": "3"}
    for command in (["user", "add", f"root:{ROOT_PASSWORD}"],
                    ["user", "grant-role", "root", "root"], ["auth", "enable"]):
        done = subprocess.run(["etcdctl", "--endpoints", endpoint, *command],
                              capture_output=True, text=True, timeout=30, env=env)
        assert done.returncode == 0, done.stderr


def auth_inventory(folder: Path, endpoint: str, **access: str) -> Path:
    inventory = folder / "hosts.yml"
    registry = {"backend": "etcd", "endpoints": [endpoint], "prefix": "/play-auth", **access}
    inventory.write_text(json.dumps({"all": {"hosts": {"here": {"connection": "local"}},
                                             "vars": {"registry": registry}}}))
    return inventory


def lock_run(inventory: Path, folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    from lab_client import E2E_DATA, ROOT

    return subprocess.run([sys.executable, "-m", "engine", str(E2E_DATA / "lock_hold.yml"),
                           "-i", str(inventory), "-e", f"dir={folder}", "-e", "pause=0",
                           "--lock-timeout", "2"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, env={**os.environ, **env})


def test_etcd_with_authentication_takes_the_right_password_only(
        etcd_server: EtcdServer, tmp_path: Path) -> None:
    enable_etcd_auth(etcd_server.client)
    password_file = tmp_path / "etcd.password"
    password_file.write_text(ROOT_PASSWORD + "\n")
    password_file.chmod(0o600)

    right = auth_inventory(tmp_path, etcd_server.client, user="root",
                           password_file=str(password_file))
    run = lock_run(right, tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    from_env = auth_inventory(tmp_path, etcd_server.client, user="root",
                              password_env="PLAY_TEST_ETCD_PASSWORD")
    run = lock_run(from_env, tmp_path, PLAY_TEST_ETCD_PASSWORD=ROOT_PASSWORD)
    assert run.returncode == 0, run.stdout + run.stderr
    assert ROOT_PASSWORD not in run.stdout + run.stderr

    wrong = lock_run(from_env, tmp_path, PLAY_TEST_ETCD_PASSWORD="not-the-password")
    assert wrong.returncode == 3, wrong.stdout + wrong.stderr
    assert "cannot log in as user 'root'" in wrong.stdout
    assert "authentication failed" in wrong.stdout
    assert "not-the-password" not in wrong.stdout + wrong.stderr
    assert "Traceback" not in wrong.stderr

    unset = lock_run(from_env, tmp_path, PLAY_TEST_ETCD_PASSWORD="")
    assert unset.returncode == 4, unset.stdout + unset.stderr
    assert "environment variable PLAY_TEST_ETCD_PASSWORD is not set" in unset.stderr

    nobody = lock_run(auth_inventory(tmp_path, etcd_server.client), tmp_path)
    assert nobody.returncode == 3, nobody.stdout + nobody.stderr
    assert "this etcd asks for a login" in nobody.stdout
