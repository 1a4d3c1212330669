"""The file registry's writes and the deploy lock under attack and under crashes: records
and lock owners private and never written through a planted name, no `-e` value in a
lock or its busy message, a stale lock taken over atomically (runs killed at random
moments mid-takeover), and a lost etcd lease stopping the run. Most runs use a
`connection: local` host; the file-lab cases use lab1 as the registry host."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from etcd_server import EtcdServer
from lab_client import E2E_DATA, ROOT, Lab, json_events, play, recording_cat

from engine.connection import Connection, open_connection, settings_for
from engine.connection.local import LocalConnection
from engine.inventory import load_inventory
from engine.registry import Instance, LockOwner
from engine.registry.file import FileRegistry
from engine.registry.lock import LockRecord

PLAYBOOK = E2E_DATA / "lock_hold.yml"


def an_instance() -> Instance:
    return Instance(service="api", instance="api@lab1", host="lab1", address="10.250.0.11",
                    port=8080, tags=("http",), meta={}, container="api",
                    image_id="sha256:" + "ab" * 32, registered_at="2024-05-01T12:00:00Z")


def local_inventory(folder: Path, registry: dict[str, object] | None = None) -> Path:
    """One `connection: local` host, `here`, with a file registry under `folder`."""
    inventory = folder / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {
        "hosts": {"here": {"connection": "local"}},
        "vars": {"registry": registry or {"root": str(folder / "registry")}}}}))
    return inventory


def hold_arguments(inventory: Path, folder: Path, pause: float, *extra: str) -> list[str]:
    return [str(PLAYBOOK), "-i", str(inventory), "-e", f"dir={folder}",
            "-e", f"pause={pause}", *extra]


def start_holding(inventory: Path, folder: Path, pause: float,
                  *extra: str) -> subprocess.Popen[str]:
    """The lock-holding run in the background, in a process group of its own (so that a
    test can kill it together with the shell it may be running)."""
    return subprocess.Popen([sys.executable, "-m", "engine",
                             *hold_arguments(inventory, folder, pause, *extra)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def wait_for_steps(folder: Path, count: int, process: subprocess.Popen[str],
                   timeout: float = 30) -> None:
    started = folder / "started"
    deadline = time.monotonic() + timeout
    while not (started.exists() and len(started.read_text().split()) >= count):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run did not start its steps"
        time.sleep(0.05)


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


# -- records: private, and never written through a planted name --------------------------

def test_a_record_is_private_while_written_and_after(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # a `cat` that notes the mode and name of the file it writes into, then writes it
    seen = tmp_path / "seen"
    fake = recording_cat(tmp_path / "bin", seen)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    root = tmp_path / "registry"
    previous_umask = os.umask(0o022)
    try:
        FileRegistry(LocalConnection("control"), str(root)).register(an_instance())
    finally:
        os.umask(previous_umask)
    mode_while_written, name = seen.read_text().split()
    assert mode_while_written == "600"
    assert Path(name).parent == root / "api"
    assert Path(name).name.startswith(".play-tmp.") and len(Path(name).name) == 20
    record = root / "api" / "api@lab1.json"
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "api").stat().st_mode) == 0o700
    assert sorted(path.name for path in (root / "api").iterdir()) == ["api@lab1.json"]


@pytest.fixture(scope="module")
def lab1(lab: Lab) -> Iterator[Connection]:
    connection = open_connection(settings_for(load_inventory([lab.inventory]).hosts["lab1"]))
    yield connection
    connection.close()


@pytest.fixture(params=["file-local", pytest.param("file-lab", marks=pytest.mark.lab)])
def registry_host(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[
        tuple[Connection, str]]:
    """A registry host and a fresh folder on it (the test's registry root and victims)."""
    if request.param == "file-local":
        yield LocalConnection("control"), str(tmp_path / "host")
        return
    connection: Connection = request.getfixturevalue("lab1")
    folder = f"/srv/play-test-lock-{uuid.uuid4().hex[:8]}"
    yield connection, folder
    connection.run(["rm", "-rf", "--", folder])


# Plants a link at `<record>.play-tmp.<pid>` for each of the next pids of the host's pid
# space, the name older versions wrote through, pointing at a file of the victim's.
PLANT = r"""record=$1; victim=$2; count=$3
next=$(cat /proc/sys/kernel/ns_last_pid)
i=0
while [ $i -lt $count ]; do
  ln -s "$victim" "$record.play-tmp.$((next + i))"; i=$((i + 1))
done
"""


def test_a_link_planted_at_the_old_temp_names_is_never_followed(
        registry_host: tuple[Connection, str]) -> None:
    connection, folder = registry_host
    root, victim = f"{folder}/registry", f"{folder}/victim"
    record = f"{root}/api/api@lab1.json"
    assert connection.run(["mkdir", "-p", f"{root}/api"]).is_ok
    assert connection.run(["sh", "-c", 'printf precious > "$1"; chmod 0600 "$1"', "-",
                           victim]).is_ok
    planted = connection.run(["sh", "-c", PLANT, "-", record, victim, "3000"])
    assert planted.is_ok, planted.stderr

    FileRegistry(connection, root).register(an_instance())

    looked = connection.run(["sh", "-c", 'cat "$1"; echo; stat -c %a "$1"; '
                             'if [ -L "$2" ]; then echo link; else stat -c %a "$2"; fi; '
                             'find "$(dirname "$2")" -type l | wc -l', "-", victim, record])
    content, victim_mode, record_mode, links = looked.stdout.split("\n")[:4]
    assert (content, victim_mode) == ("precious", "600"), "the victim file was written"
    assert record_mode == "600", "the record is a link or not private"
    assert int(links) == 3000, "a planted link was used as the temp file"
    written = connection.run(["cat", record]).stdout
    assert Instance.from_json(written) == an_instance()


# -- the lock's owner record: no option value, private --------------------------------

def test_the_lock_and_its_busy_message_never_hold_an_extra_var_value(tmp_path: Path) -> None:
    secret = f"VALUE-{uuid.uuid4().hex}"
    inventory = local_inventory(tmp_path)
    holder = start_holding(inventory, tmp_path, 1.5, "-e", f"db_password={secret}",
                           f"--extra-vars=token={secret}", "--lock-timeout", "5")
    try:
        wait_for_steps(tmp_path, 1, holder)
        owner = tmp_path / "registry" / ".locks" / "here" / "owner.json"
        assert stat.S_IMODE(owner.stat().st_mode) == 0o600
        assert stat.S_IMODE(owner.parent.stat().st_mode) == 0o700
        text = owner.read_text()
        assert secret not in text
        record = json.loads(text)
        assert (record["playbook"], record["options"]) == (
            str(PLAYBOOK), ["-i", "-e", "--extra-vars", "--lock-timeout"])

        waiter = play(*hold_arguments(inventory, tmp_path, 0, "-e", f"again={secret}",
                                      "--lock-timeout", "0.5"))
        assert waiter.returncode == 5, waiter.stdout + waiter.stderr
        assert "deploy lock on here held by" in waiter.stdout
        assert f"(play {PLAYBOOK}, options -i -e --extra-vars --lock-timeout)" in waiter.stdout
        assert secret not in waiter.stdout + waiter.stderr
    finally:
        out, err = holder.communicate(timeout=60)
    assert holder.returncode == 0, out + err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_run_waiting_for_a_busy_lock_stops_at_once_when_interrupted(
        tmp_path: Path, signum: int) -> None:
    """Ctrl-C (or SIGTERM from cron's timeout) while the lock is busy ends the wait with
    130 and runs nothing, instead of sitting out --lock-timeout."""
    inventory = local_inventory(tmp_path)
    holder = start_holding(inventory, tmp_path, 2, "--lock-timeout", "5")
    try:
        wait_for_steps(tmp_path, 1, holder)
        waiter = start_holding(inventory, tmp_path, 0, "--lock-timeout", "120")
        deadline = time.monotonic() + 30
        seen = ""
        assert waiter.stdout is not None
        while "waiting for the deploy lock" not in seen:
            assert time.monotonic() < deadline, seen
            seen += waiter.stdout.readline()
        os.kill(waiter.pid, signum)
        out, err = waiter.communicate(timeout=15)  # well inside the 120 s it would wait
        assert waiter.returncode == 130, seen + out + err
        assert "interrupted while waiting" in seen + out
        assert "here" not in out.partition("RECAP")[2], out  # nothing ran, nothing skipped
    finally:
        out, err = holder.communicate(timeout=60)
    assert holder.returncode == 0, out + err


# -- stale locks: boot id, and a takeover that a crash cannot wedge ----------------------

def plant_stale_lock(root: Path, owner: LockOwner, *leftovers: str) -> Path:
    lock = root / ".locks" / "here"
    lock.mkdir(parents=True)
    (lock / "owner.json").write_text(LockRecord.new(owner).to_json())
    for name in leftovers:
        (lock / name).mkdir()
    return lock


def test_a_lock_of_this_host_from_an_earlier_boot_is_taken_over(tmp_path: Path) -> None:
    # our own pid, alive: only the boot id tells that the lock's run is gone
    earlier = LockOwner("root", os.getpid(), socket.gethostname(), "2024-05-01T12:00:00Z",
                        "play", "site.yml", (), "0f0e0d0c-0000-4000-8000-earlier-boot")
    plant_stale_lock(tmp_path / "registry", earlier)
    result = play(*hold_arguments(local_inventory(tmp_path), tmp_path, 0,
                                  "--lock-timeout", "1"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "taking over stale deploy lock on here" in result.stdout


def test_a_lock_left_mid_takeover_by_a_dead_run_is_taken_over(tmp_path: Path) -> None:
    """What a run that died inside an older version's takeover left: the stale owner
    and its `takeover` mutex directory, which made every later run wait forever."""
    gone = LockOwner("root", dead_pid(), socket.gethostname(), "2024-05-01T12:00:00Z",
                     "play", "site.yml")
    plant_stale_lock(tmp_path / "registry", gone, "takeover")
    result = play(*hold_arguments(local_inventory(tmp_path), tmp_path, 0,
                                  "--lock-timeout", "2"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert not list((tmp_path / "registry" / ".locks").iterdir())


def test_the_stale_locks_a_killed_run_left_on_many_hosts_go_in_one_takeover(
        tmp_path: Path) -> None:
    """A killed run leaves its lock on every host it held; the next run judges the owner
    once and takes over all of them together (one at a time took 17 minutes after a
    1000-host run was killed), and leaves a lock another owner holds alone."""
    hosts = [f"host{i:02}" for i in range(40)]
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {
        "hosts": {name: {"connection": "local"} for name in hosts},
        "vars": {"registry": {"root": str(tmp_path / "registry")}}}}))
    gone = LockRecord.new(LockOwner("root", dead_pid(), socket.gethostname(),
                                    "2024-05-01T12:00:00Z", "play", "site.yml")).to_json()
    other = LockRecord.new(LockOwner("root", dead_pid(), socket.gethostname(),
                                     "2024-05-01T12:00:00Z", "play", "other.yml")).to_json()
    for name in hosts:
        lock = tmp_path / "registry" / ".locks" / name
        lock.mkdir(parents=True)
        (lock / "owner.json").write_text(other if name == "host39" else gone)
    result = play(*hold_arguments(inventory, tmp_path, 0, "--lock-timeout", "5"))
    assert result.returncode == 0, result.stdout + result.stderr
    takeovers = [line for line in result.stdout.splitlines()
                 if "taking over stale deploy lock" in line]
    assert len(takeovers) == 2, takeovers  # the 39 of site.yml's run, then other.yml's
    assert "host00" in takeovers[0] and "host39" in takeovers[1], takeovers
    assert not list((tmp_path / "registry" / ".locks").iterdir())


TAKEOVER_TRIALS = 16


def test_runs_killed_at_random_moments_of_a_takeover_leave_a_lock_the_next_run_takes(
        tmp_path: Path) -> None:
    """Each trial plants a stale lock, starts a run and kills it (with whatever shell it
    runs on the registry) at a random moment of its start-up, judgement and takeover;
    the next run must get the lock, whatever state the kill left."""
    seed = int(os.environ.get("PLAY_TEST_SEED") or time.time_ns() % 2**32)
    print(f"takeover kill seed: {seed} (PLAY_TEST_SEED={seed} repeats it)")
    chosen = random.Random(seed)
    window = _takeover_window(tmp_path / "measure")
    for trial in range(TAKEOVER_TRIALS):
        folder = tmp_path / f"trial{trial}"
        folder.mkdir()
        inventory = local_inventory(folder)
        gone = LockOwner("root", dead_pid(), socket.gethostname(), "2024-05-01T12:00:00Z",
                         "play", "site.yml")
        plant_stale_lock(folder / "registry", gone)
        delay = chosen.uniform(0.0, window)
        victim = start_holding(inventory, folder, 0)
        time.sleep(delay)
        with contextlib.suppress(ProcessLookupError):  # it may have finished first
            os.killpg(victim.pid, signal.SIGKILL)
        victim.communicate()
        after = play(*hold_arguments(inventory, folder, 0, "--lock-timeout", "10"))
        assert after.returncode == 0, (f"trial {trial} (seed {seed}, killed after "
                                       f"{delay:.3f} s): {after.stdout}{after.stderr}")
        assert not list((folder / "registry" / ".locks").iterdir()), f"trial {trial}"


def _takeover_window(folder: Path) -> float:
    """How long a run takes from its start to the end of a takeover, measured here."""
    folder.mkdir()
    plant_stale_lock(folder / "registry", LockOwner(
        "root", dead_pid(), socket.gethostname(), "2024-05-01T12:00:00Z", "play", "x.yml"))
    started = time.monotonic()
    result = play(*hold_arguments(local_inventory(folder), folder, 0))
    assert result.returncode == 0, result.stdout + result.stderr
    return time.monotonic() - started


# -- a lost etcd lease stops the run -------------------------------------------------------

def etcd_inventory(folder: Path, endpoint: str, prefix: str) -> Path:
    return local_inventory(folder, {"backend": "etcd", "endpoints": [endpoint],
                                    "prefix": prefix})


def etcdctl(endpoint: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["etcdctl", "--endpoints", endpoint, *arguments],
                          capture_output=True, text=True, timeout=30,
                          env={**os.environ, "ETCDCTL_API": "3"})


def lock_lease(endpoint: str, prefix: str) -> str:
    """The lease (hex, as etcdctl takes it) of the deploy lock key on `here`."""
    answer = etcdctl(endpoint, "get", f"{prefix}/.locks/here", "-w", "json")
    assert answer.returncode == 0, answer.stderr
    return f"{int(json.loads(answer.stdout)['kvs'][0]['lease']):x}"


def assert_stopped_for_the_lost_lock(run: subprocess.Popen[str]) -> None:
    out, err = run.communicate(timeout=120)
    assert run.returncode == 3, out + err
    events = json_events(out)
    warnings = [str(e["msg"]) for e in events if e["event"] == "warning"]
    assert any("the deploy lock was lost" in message for message in warnings), warnings
    ends = [e for e in events if e["event"] == "step_end"]
    not_started = [e for e in ends if e["msg"] == "not started: the deploy lock was lost"]
    assert not_started, ends
    assert all(e["status"] == "changed" for e in ends if e not in not_started), ends
    # nothing started once the loss was seen
    lost_at = next(i for i, e in enumerate(events) if e["event"] == "warning"
                   and "the deploy lock was lost" in str(e["msg"]))
    assert not [e for e in events[lost_at:] if e["event"] == "step_start"]


def test_a_revoked_etcd_lease_stops_scheduling_and_the_run_exits_3(
        etcd_server: EtcdServer, tmp_path: Path) -> None:
    prefix = f"/play-test-{uuid.uuid4().hex[:8]}"
    inventory = etcd_inventory(tmp_path, etcd_server.client, prefix)
    run = start_holding(inventory, tmp_path, 2, "--json")
    wait_for_steps(tmp_path, 1, run)
    revoked = etcdctl(etcd_server.client, "lease", "revoke",
                      lock_lease(etcd_server.client, prefix))
    assert revoked.returncode == 0, revoked.stderr
    assert_stopped_for_the_lost_lock(run)
    assert len((tmp_path / "started").read_text().split()) < 6


def test_a_stopped_etcd_loses_the_lease_and_the_run_stops(etcd_server: EtcdServer,
                                                          tmp_path: Path) -> None:
    # the lease outlives an outage shorter than its 15 s TTL; this one is longer
    prefix = f"/play-test-{uuid.uuid4().hex[:8]}"
    inventory = etcd_inventory(tmp_path, etcd_server.client, prefix)
    run = start_holding(inventory, tmp_path, 5, "--json")
    wait_for_steps(tmp_path, 1, run)
    etcd_server.stop()
    assert_stopped_for_the_lost_lock(run)
    assert len((tmp_path / "started").read_text().split()) < 6
