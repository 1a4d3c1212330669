"""Faults during a rolling deploy on the 3-host lab (issue 6): a host's sshd or Docker
engine dies mid-run, play itself is killed or interrupted, etcd stops, the file
registry cannot be written, five runs start at once. After each, the registry lists
only running healthy containers, no lock is left behind, and a rerun converges.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from deploys import Deploy
from etcd_server import EtcdServer
from lab_client import E2E_DATA, LAB_HOSTS, ROOT, Lab, kill_dockerd, kill_sshd, play

from engine.lab import lab_up

pytestmark = pytest.mark.lab

HOSTS = tuple(f"lab{index}" for index in range(1, LAB_HOSTS + 1))
Event = dict[str, object]


class Events:
    """The --json events of a run in the background, read as they arrive."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.seen: list[Event] = []
        self.lines: list[str] = []
        self._arrivals: queue.Queue[Event | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if line.startswith("{"):
                self._arrivals.put(json.loads(line))
        self._arrivals.put(None)

    def wait_for(self, wanted: Callable[[Event], bool], timeout: float = 120) -> Event:
        deadline = time.monotonic() + timeout
        while True:
            event = self._arrivals.get(timeout=max(deadline - time.monotonic(), 0.01))
            if event is None:
                raise AssertionError("the run ended before the awaited event:\n" + self.text())
            self.seen.append(event)
            if wanted(event):
                return event

    def finish(self, timeout: float = 180) -> int:
        status = self.process.wait(timeout=timeout)
        while (event := self._arrivals.get(timeout=10)) is not None:
            self.seen.append(event)
        return status

    def text(self) -> str:
        return "".join(self.lines)[-4000:]

    def step_end(self, host: str, step: str) -> Event | None:
        return next((event for event in self.seen if event["event"] == "step_end"
                     and event["host"] == host and event["step"] == step), None)


def starts(host: str, step: str) -> Callable[[Event], bool]:
    return lambda event: event["event"] == "step_start" and event["host"] == host and \
        event["step"] == step


def assert_records_point_at_healthy_containers(deploy: Deploy, hosts: tuple[str, ...] = HOSTS
                                               ) -> None:
    """The spec's promise after any fault: no record names a container that is not
    running healthy, and its meta tells the version that really runs."""
    for record in deploy.records().values():
        host = str(record["host"])
        if host not in hosts:
            continue
        web = deploy.web(host)
        assert web is not None, f"{record['instance']} names a container that is gone"
        assert web["running"] and web["health"] == "healthy", (record, web)
        meta = record["meta"]
        assert isinstance(meta, dict)
        assert f"GREETING={meta['greeting']}" in web["env"], (record, web)  # type: ignore[operator]


def assert_converged(deploy: Deploy, greeting: str) -> None:
    """Every host runs the wanted version, healthy, once; the registry lists exactly
    those instances; no container was left aside by a rollout; no lock is held."""
    assert set(deploy.records()) == {f"{deploy.service}@{host}" for host in HOSTS}
    for record in deploy.records().values():
        assert "missed" not in record, record
    for host in HOSTS:
        assert set(deploy.containers(host)) == {deploy.service, f"{deploy.prefix}-side"}, host
        web = deploy.web(host)
        assert web is not None and web["running"] and web["health"] == "healthy", (host, web)
        assert f"GREETING={greeting}" in web["env"]  # type: ignore[operator]
    assert_records_point_at_healthy_containers(deploy)
    assert not deploy.locks(), "a deploy lock was left behind"


@pytest.fixture
def restore_lab(lab: Lab) -> Iterator[None]:
    """A test that kills a lab daemon gets the lab back whole, whatever happens."""
    yield
    lab_up(LAB_HOSTS, lab.inventory)


@pytest.mark.parametrize("moment", ["before its batch", "during its container step"])
def test_a_host_whose_sshd_dies_mid_rollout_is_exit_3_and_the_others_complete(
        deploy: Deploy, lab: Lab, restore_lab: None, moment: str) -> None:
    assert deploy.run().returncode == 0
    events = Events(deploy.popen(greeting="two"))
    # lab3 is the last batch: lab1 and lab2 roll, then lab3 cannot be reached
    if moment == "before its batch":
        events.wait_for(starts("lab1", f"container {deploy.service}"))
    else:
        events.wait_for(starts("lab3", f"container {deploy.service}"))
    kill_sshd("lab3")
    status = events.finish()
    assert status == 3, events.text()
    ended = events.step_end("lab3", f"container {deploy.service}")
    assert ended is not None and ended["status"] == "unreachable", ended
    for host in ("lab1", "lab2"):
        web = deploy.web(host)
        assert web is not None and "GREETING=two" in web["env"]  # type: ignore[operator]
        assert deploy.records()[f"{deploy.service}@{host}"]["meta"] == {"greeting": "two"}
    assert_records_point_at_healthy_containers(deploy, hosts=("lab1", "lab2"))
    assert not deploy.locks()

    lab_up(LAB_HOSTS, lab.inventory)   # lab3 comes back (a new sshd)
    rerun = deploy.run(greeting="two")
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert_converged(deploy, "two")


CRASH = E2E_DATA / "crash.yml"


def crash_argv(deploy: Deploy, greeting: str, *extra: str) -> list[str]:
    """The issue's crash scenario (tests/data/e2e/crash.yml) with this deploy's names."""
    arguments = deploy.arguments(*extra, greeting=greeting)
    return [sys.executable, "-m", "engine", str(CRASH), *arguments[1:]]


def assert_crash_converged(deploy: Deploy, greeting: str, context: str) -> None:
    """Every host runs the wanted version once, running and healthy, nothing aside; the
    registry lists exactly those instances; no lock is held."""
    for host in HOSTS:
        containers = deploy.containers(host)
        assert set(containers) == {deploy.service}, (context, host, set(containers))
        web = containers[deploy.service]
        assert web["running"] and web["health"] == "healthy", (context, host, web)
        assert f"GREETING={greeting}" in web["env"], (context, host)  # type: ignore[operator]
    records = deploy.records()
    assert set(records) == {f"{deploy.service}@{host}" for host in HOSTS}, (context, records)
    assert all(record["meta"] == {"greeting": greeting} for record in records.values()), context
    assert_records_point_at_healthy_containers(deploy)
    assert not deploy.locks(), f"{context}: a deploy lock was left behind"


def measure_swap_window(deploy: Deploy) -> tuple[float, float]:
    """Seconds from a run's start to its first container command, and to the end of the
    rollout, measured on an update of the 3 hosts."""
    started = time.monotonic()
    process = subprocess.Popen(crash_argv(deploy, "measure"), cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    events = Events(process)
    events.wait_for(starts("lab1", f"container {deploy.service}"))
    first = time.monotonic() - started
    assert events.finish() == 0, events.text()
    return first, time.monotonic() - started


def test_sigkill_at_random_moments_of_the_swap_then_every_first_rerun_converges(
        deploy: Deploy) -> None:
    """Issue 14: kill -9 of play at moments drawn over the whole swap window (first
    container command to the end of the rollout), PLAY_FAULT_TRIALS times (12): the
    window is cut into that many equal slices and each trial draws its moment uniformly
    in its own slice (in a shuffled order), so every run covers the whole window, from
    its first command to its last, where 30 independent draws could leave gaps. Every
    first rerun (--lock-timeout 30) exits 0 and converges. The seed is printed:
    PLAY_FAULT_SEED=<seed> replays the same moments."""
    seed = int(os.environ.get("PLAY_FAULT_SEED") or int.from_bytes(os.urandom(8), "big"))
    trials = int(os.environ.get("PLAY_FAULT_TRIALS") or 12)
    chooser = random.Random(seed)
    assert subprocess.run(crash_argv(deploy, "start"), cwd=ROOT, capture_output=True,
                          timeout=240).returncode == 0
    window = measure_swap_window(deploy)
    print(f"sigkill trials: PLAY_FAULT_SEED={seed}, {trials} trials, swap window "
          f"{window[0]:.2f}-{window[1]:.2f} s")
    width = (window[1] - window[0]) / trials
    slices = chooser.sample(range(trials), trials)
    for trial, piece in enumerate(slices):
        greeting = ("blue", "green")[trial % 2]   # each trial is an update
        moment = chooser.uniform(window[0] + piece * width, window[0] + (piece + 1) * width)
        context = f"PLAY_FAULT_SEED={seed} trial {trial}, killed after {moment:.2f} s"
        print(context)
        process = subprocess.Popen(crash_argv(deploy, greeting), cwd=ROOT, text=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(moment)
        process.kill()
        process.wait(timeout=60)
        # even a run killed outright leaves no record of a container that is not healthy
        assert_records_point_at_healthy_containers(deploy)
        rerun = subprocess.run(crash_argv(deploy, greeting, "--lock-timeout", "30"), cwd=ROOT,
                               capture_output=True, text=True, timeout=240)
        assert rerun.returncode == 0, f"{context}:\n{rerun.stdout[-3000:]}{rerun.stderr[-2000:]}"
        assert_crash_converged(deploy, greeting, context)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_mid_rollout_finishes_the_step_in_flight_and_exits_130(
        deploy: Deploy, signum: signal.Signals) -> None:
    assert deploy.run().returncode == 0
    events = Events(deploy.popen(greeting="interrupted"))
    events.wait_for(starts("lab2", f"container {deploy.service}"))
    events.process.send_signal(signum)
    assert events.finish() == 130, events.text()
    in_flight = events.step_end("lab2", f"container {deploy.service}")
    assert in_flight is not None and in_flight["status"] == "changed", in_flight
    assert not any(event["event"] == "step_start" and event["host"] == "lab3"
                   for event in events.seen), "nothing new starts after the signal"
    assert not deploy.locks(), "the lock is released"
    assert_records_point_at_healthy_containers(deploy)
    rerun = deploy.run(greeting="interrupted")
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert_converged(deploy, "interrupted")


def test_a_docker_engine_that_dies_mid_rollout_fails_that_host_only(
        deploy: Deploy, lab: Lab, restore_lab: None) -> None:
    assert deploy.run().returncode == 0
    events = Events(deploy.popen(greeting="two"))
    events.wait_for(starts("lab2", f"container {deploy.service}"))
    kill_dockerd("lab2")
    assert events.finish() == 2, events.text()
    failed = events.step_end("lab2", f"container {deploy.service}")
    assert failed is not None and failed["status"] == "failed", failed
    assert "docker" in str(failed["msg"]).lower(), failed
    lab1 = deploy.web("lab1")
    assert lab1 is not None and "GREETING=two" in lab1["env"]  # type: ignore[operator]
    lab3 = deploy.web("lab3")   # the rollout stopped before lab3 (max_fail_percentage: 0)
    assert lab3 is not None and "GREETING=hello" in lab3["env"]  # type: ignore[operator]
    # with its engine gone nothing vouches for lab2's container (it stopped serving):
    # its record leaves the registry
    assert not answers(lab.host("lab2").address, deploy.port)
    assert f"{deploy.service}@lab2" not in deploy.records()
    assert f"removed {deploy.service}@lab2 from the registry" in str(failed["msg"])
    assert_records_point_at_healthy_containers(deploy, hosts=("lab1", "lab3"))
    assert not deploy.locks()

    lab_up(LAB_HOSTS, lab.inventory)   # lab2 gets a new Docker engine
    rerun = deploy.run(greeting="two")
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert_converged(deploy, "two")


def answers(address: str, port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{address}:{port}/", timeout=5):
            return True
    except OSError:
        return False


def _use_etcd(deploy: Deploy, server: EtcdServer) -> str:
    prefix = f"/play-faults-{deploy.prefix}"
    document = yaml.safe_load(deploy.inventory.read_text())
    document["all"]["children"]["lab"]["vars"]["registry"] = {
        "backend": "etcd", "endpoints": [server.client], "prefix": prefix}
    deploy.inventory.write_text(yaml.safe_dump(document))
    return prefix


def _etcd_records(server: EtcdServer, prefix: str, service: str) -> dict[str, dict[str, object]]:
    from engine.connection.local import LocalConnection
    from engine.registry import RegistryConfig, open_registry

    registry = open_registry(RegistryConfig(backend="etcd", endpoints=(server.client,),
                                            prefix=prefix), LocalConnection)
    try:
        return {i.instance: json.loads(i.to_json()) for i in registry.instances(service)}
    finally:
        registry.close()


def test_etcd_stopping_mid_rollout_is_a_clear_error_and_the_rerun_converges(
        deploy: Deploy, etcd_server: EtcdServer) -> None:
    prefix = _use_etcd(deploy, etcd_server)
    assert deploy.run().returncode == 0
    events = Events(deploy.popen(greeting="two"))
    events.wait_for(starts("lab2", f"container {deploy.service}"))
    etcd_server.stop()
    status = events.finish()
    assert status in (2, 3), events.text()
    assert etcd_server.client in events.text(), "the error names the etcd endpoint"
    assert "Traceback" not in events.text()

    etcd_server.start()
    # every record etcd kept is whole: `registry check` judges each one, none is broken
    check = play("registry", "check", deploy.service, "-i", str(deploy.inventory), "--json")
    assert check.returncode in (0, 6), check.stdout + check.stderr
    assert "broken" not in check.stdout
    # the dead run's lock lease runs out (15 s) while the rerun waits for it
    rerun = deploy.run("--lock-timeout", "60", greeting="two")
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    records = _etcd_records(etcd_server, prefix, deploy.service)
    assert set(records) == {f"{deploy.service}@{host}" for host in HOSTS}
    assert all(record["meta"] == {"greeting": "two"} for record in records.values())
    check = play("registry", "check", deploy.service, "-i", str(deploy.inventory))
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_registry_directory_that_cannot_be_written_keeps_every_good_record(
        deploy: Deploy) -> None:
    assert deploy.run().returncode == 0
    before = {path.name: path.read_bytes()
              for path in (deploy.registry_root / deploy.service).iterdir()}
    service_dir = deploy.registry_root / deploy.service
    subprocess.run(["chattr", "+i", str(service_dir)], check=True)
    try:
        result = deploy.run(greeting="two")
        assert result.returncode == 2, result.stdout[-3000:]
        assert str(service_dir) in result.stdout, "the error names the directory"
        after = {path.name: path.read_bytes() for path in service_dir.iterdir()}
        assert after == before, "every record is still there, byte for byte"
        assert_records_point_at_healthy_containers(deploy)
    finally:
        subprocess.run(["chattr", "-i", str(service_dir)], check=True)
    assert not deploy.locks()
    rerun = deploy.run(greeting="two")
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert_converged(deploy, "two")


@pytest.fixture
def full_registry(deploy: Deploy) -> Iterator[Path]:
    """The deploy's service directory on a tiny tmpfs of its own, to fill up."""
    service_dir = deploy.registry_root / deploy.service
    service_dir.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "play-test-full",
                    str(service_dir)], check=True)
    try:
        yield service_dir
    finally:
        subprocess.run(["umount", str(service_dir)], check=True)


def test_a_full_registry_disk_never_replaces_a_record_with_a_broken_one(
        deploy: Deploy, full_registry: Path) -> None:
    assert deploy.run().returncode == 0
    before = {path.name: path.read_bytes() for path in full_registry.iterdir()}
    assert len(before) == len(HOSTS)
    with (full_registry / "filler").open("wb", buffering=0) as filler, \
            contextlib.suppress(OSError):   # until ENOSPC: the disk is full
        while True:
            filler.write(b"\0" * 4096)
    # a changed tag re-registers each instance in place, with no deregistration first
    result = deploy.run("-e", "service_tag=v2")
    assert result.returncode == 2, result.stdout[-3000:]
    after = {path.name: path.read_bytes() for path in full_registry.iterdir()
             if path.name != "filler"}
    assert after == before, "no record replaced by a short one, no temporary file left"
    (full_registry / "filler").unlink()
    rerun = deploy.run("-e", "service_tag=v2")
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert all(record["tags"] == ["http", "v2"] for record in deploy.records().values())
    assert_converged(deploy, "hello")


def test_five_runs_at_once_deploy_one_at_a_time_and_end_consistent(deploy: Deploy) -> None:
    assert deploy.run().returncode == 0
    runs = {f"run{index}": Events(deploy.popen("--lock-timeout", "120",
                                               greeting=f"run{index}"))
            for index in range(5)}
    statuses = {greeting: events.finish(timeout=300) for greeting, events in runs.items()}
    assert set(statuses.values()) <= {0, 5}, statuses
    assert 0 in statuses.values()
    # the spans in which each run did work on the hosts never overlap
    spans = []
    for greeting, events in runs.items():
        times = [float(str(event["time"])) for event in events.seen
                 if event["event"] in ("step_start", "step_end")]
        if times:
            spans.append((min(times), max(times), greeting))
    spans.sort()
    for (_, first_end, first), (second_start, _, second) in itertools.pairwise(spans):
        assert first_end <= second_start, f"{first} and {second} deployed at the same time"
    last = spans[-1][2]
    assert statuses[last] == 0
    assert_converged(deploy, last)
