"""Containers and the registry on the lab: reconcile, roll, roll back, notify, backends.
Interrupts, faults and concurrent runs: test_faults.py."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import stat
import subprocess
import threading
import uuid
from pathlib import Path

import pytest
import yaml
from deploys import IMAGE, Deploy
from lab_client import E2E_DATA, json_events, play

pytestmark = pytest.mark.lab


def step_ends(stdout: str) -> list[dict[str, object]]:
    return [event for event in json_events(stdout) if event["event"] == "step_end"]


def test_cold_deploy_then_a_noop_with_one_inspect_per_host(deploy: Deploy) -> None:
    cold = deploy.run()
    assert cold.returncode == 0, cold.stdout + cold.stderr
    for host in ("lab1", "lab2", "lab3"):
        containers = deploy.containers(host)
        assert set(containers) == {f"{deploy.prefix}-web", f"{deploy.prefix}-side"}
        assert all(container["running"] for container in containers.values())
    assert set(deploy.records()) == {f"{deploy.prefix}-web@lab{i}" for i in (1, 2, 3)}
    again = deploy.run()
    assert again.returncode == 0
    assert not [e for e in step_ends(again.stdout) if e["changed"]]
    recap = json_events(again.stdout)[-1]
    assert recap["commands"] == {"lab1": 1, "lab2": 1, "lab3": 1}


def test_changing_one_env_var_recreates_only_that_container(deploy: Deploy) -> None:
    assert deploy.run().returncode == 0
    before = {host: deploy.containers(host) for host in ("lab1", "lab2", "lab3")}
    changed = deploy.run(greeting="bonjour")
    assert changed.returncode == 0, changed.stdout
    for host in ("lab1", "lab2", "lab3"):
        after = deploy.containers(host)
        web, side = f"{deploy.prefix}-web", f"{deploy.prefix}-side"
        assert after[web]["id"] != before[host][web]["id"]
        assert "GREETING=bonjour" in after[web]["env"]
        assert after[side]["id"] == before[host][side]["id"]
    greetings = {str(record["meta"]) for record in deploy.records().values()}
    assert greetings == {str({"greeting": "bonjour"})}


def test_a_recreate_says_which_fields_changed_and_never_an_env_value(deploy: Deploy) -> None:
    assert deploy.run().returncode == 0
    other = f"play-lab/busybox:{deploy.prefix}"  # the same image under another name
    for host in deploy.lab.hosts:
        assert deploy.lab.run(host, "docker", "tag", IMAGE, other).returncode == 0
    try:
        changed = deploy.run("--diff", greeting="bonjour-secret", image=other)
        assert changed.returncode == 0, changed.stdout + changed.stderr
        webs = [event for event in step_ends(changed.stdout)
                if event["step"] == f"container {deploy.prefix}-web"]
        assert len(webs) == 3
        for event in webs:
            web = f"{deploy.prefix}-web"
            assert event["diff"] == (f"recreate {web}: image: {IMAGE} -> {other}\n"
                                     f"recreate {web}: env.GREETING: changed\n")
            assert event["msg"] == f"recreate (image: {IMAGE} -> {other}; env.GREETING: changed)"
        assert "bonjour" not in changed.stdout and "hello" not in changed.stdout
        label = deploy.lab.run(deploy.lab.host("lab1"), "docker", "inspect", "--format",
                               '{{ index .Config.Labels "play.spec" }}', f"{deploy.prefix}-web")
        assert json.loads(label.stdout)["image"] == other
        assert "bonjour" not in label.stdout and "GREETING" in label.stdout
    finally:
        deploy.run("--diff")  # back to the shared image before the tag goes
        for host in deploy.lab.hosts:
            deploy.lab.run(host, "docker", "rmi", other)


def test_update_rolls_host_by_host(deploy: Deploy) -> None:
    assert deploy.run().returncode == 0
    rolled = deploy.run(greeting="v2")
    ends = [e for e in step_ends(rolled.stdout)
            if e["step"] == f"container {deploy.prefix}-web" and e["changed"]]
    assert [e["host"] for e in ends] == ["lab1", "lab2", "lab3"]
    starts = {e["host"]: e["time"] for e in json_events(rolled.stdout)
              if e["event"] == "step_start" and e["step"] == f"container {deploy.prefix}-web"}
    assert starts["lab2"] >= ends[0]["time"] and starts["lab3"] >= ends[1]["time"]  # type: ignore[operator]


def test_unhealthy_version_rolls_back_on_the_first_host_and_stops(deploy: Deploy) -> None:
    assert deploy.run().returncode == 0
    before = deploy.containers("lab1")[f"{deploy.prefix}-web"]
    records_before = deploy.records()
    bad = deploy.run(greeting="broken", health="false")
    assert bad.returncode == 2, bad.stdout
    failed = [e for e in step_ends(bad.stdout) if e["status"] == "failed"]
    assert [e["host"] for e in failed] == ["lab1"]
    assert "rolled back" in str(failed[0]["msg"])
    after = deploy.containers("lab1")[f"{deploy.prefix}-web"]
    assert after["id"] == before["id"] and after["running"]
    assert "GREETING=hello" in after["env"]
    for host in ("lab2", "lab3"):  # the rollout stopped before them
        assert "GREETING=hello" in deploy.containers(host)[f"{deploy.prefix}-web"]["env"]
    assert set(deploy.records()) == set(records_before)


def test_check_on_a_changed_spec_changes_nothing(deploy: Deploy) -> None:
    assert deploy.run().returncode == 0
    before = deploy.containers("lab2")
    check = deploy.run("--check", greeting="changed")
    assert check.returncode == 6, check.stdout
    assert any(e["changed"] for e in step_ends(check.stdout))
    assert deploy.containers("lab2") == before


def test_unmanaged_containers_are_never_touched(deploy: Deploy) -> None:
    host = deploy.lab.host("lab1")
    name = f"{deploy.prefix}-unmanaged"
    deploy.lab.run(host, "docker", "run", "-d", "--name", name, "--network", "host", IMAGE,
                   "sleep", "100000")
    assert deploy.run().returncode == 0
    assert deploy.containers("lab1")[name]["running"]


def test_file_and_etcd_backends_hold_the_same_records(deploy: Deploy, etcd: str,
                                                        tmp_path: Path) -> None:
    from engine.connection.local import LocalConnection
    from engine.registry import RegistryConfig, open_registry

    assert deploy.run().returncode == 0
    file_records = deploy.records()
    prefix = f"/play-test-{deploy.prefix}"
    document = yaml.safe_load(deploy.inventory.read_text())
    document["all"]["children"]["lab"]["vars"]["registry"] = {
        "backend": "etcd", "endpoints": [etcd], "prefix": prefix}
    etcd_inventory = tmp_path / "etcd-hosts.yml"
    etcd_inventory.write_text(yaml.safe_dump(document))
    deploy.inventory = etcd_inventory
    result = deploy.run()  # the containers are there: only the registrations are new
    assert result.returncode == 0, result.stdout
    registry = open_registry(RegistryConfig(backend="etcd", endpoints=(etcd,), prefix=prefix),
                             lambda host: LocalConnection(host))
    try:
        etcd_records = {i.instance: json.loads(i.to_json())
                        for i in registry.instances(f"{deploy.prefix}-web")}
    finally:
        registry.close()

    def comparable(records: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
        return {key: {k: v for k, v in record.items() if k != "registered_at"}
                for key, record in records.items()}

    assert len(etcd_records) == 3
    assert comparable(etcd_records) == comparable(file_records)


def test_a_changed_file_that_notifies_a_container_restarts_it(deploy: Deploy) -> None:
    directory = f"/srv/{deploy.prefix}"
    host = deploy.lab.host("lab1")

    def run(page: str) -> subprocess.CompletedProcess[str]:
        return play(str(E2E_DATA / "notify.yml"), "-i", str(deploy.inventory), "--json",
                    "-e", f"p={deploy.prefix}", "-e", f"dir={directory}",
                    "-e", f"web_port={deploy.port}", "-e", f"page={page}")

    def started_at() -> str:
        return deploy.lab.run(host, "docker", "inspect", "--format", "{{.State.StartedAt}}",
                              f"{deploy.prefix}-server").stdout

    try:
        assert run("one").returncode == 0
        first = started_at()
        unchanged = run("one")
        assert not [e for e in step_ends(unchanged.stdout) if e["changed"]]
        assert started_at() == first
        changed = run("two")
        restarted = [e for e in step_ends(changed.stdout)
                     if e["step"] == f"container {deploy.prefix}-server"]
        assert restarted[0]["status"] == "changed" and "notified" in str(restarted[0]["msg"])
        assert started_at() != first
    finally:
        deploy.lab.run(host, "rm", "-rf", directory)


def test_an_env_value_too_long_for_dockers_env_file_is_refused_before_anything_runs(
        deploy: Deploy, tmp_path: Path) -> None:
    assert deploy.run().returncode == 0
    before = {host: deploy.containers(host) for host in ("lab1", "lab2", "lab3")}
    records = deploy.records()
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"greeting": "a" * 140_000}))
    refused = deploy.run("-e", f"@{big}")
    assert refused.returncode == 4, refused.stdout + refused.stderr
    assert f"{E2E_DATA / 'containers.yml'}:11: " in refused.stderr
    assert "at most 65535 per env file line" in refused.stderr
    assert refused.stdout == ""   # not even the run's start: nothing ran
    assert {host: deploy.containers(host) for host in ("lab1", "lab2", "lab3")} == before
    assert deploy.records() == records


def test_a_run_time_value_too_long_for_the_host_fails_the_step_and_keeps_the_old_container(
        deploy: Deploy, tmp_path: Path) -> None:
    """A value known only while the run goes (a registered output) is measured when the
    step runs: the step fails before the host is touched, the old container keeps serving."""
    playbook = tmp_path / "registered.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "registered value", "hosts": "lab1",
        "tasks": [{"name": "make value", "register": "made",
                   "shell": "head -c {{ size }} /dev/zero | tr '\\0' a"}],
        "containers": [{"name": "{{ p }}-web", "image": IMAGE, "network": "host",
                        "command": ["sleep", "100000"], "stop_timeout": 1,
                        "after": ["make value"], "env": {"MADE": "{{ made.stdout }}"}}]}]))
    arguments = [str(playbook), "-i", str(deploy.inventory), "-e", f"p={deploy.prefix}"]
    assert play(*arguments, "-e", "size=10").returncode == 0
    old = deploy.web("lab1")
    assert old is not None and old["running"]
    failed = play(*arguments, "-e", "size=140000")
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert "at most 65535 per env file line" in failed.stdout
    now = deploy.containers("lab1")
    assert set(now) == {deploy.service}   # no .play-old, no second container
    assert now[deploy.service]["id"] == old["id"] and now[deploy.service]["running"]


class ArgvWatch:
    """Every process's command line on the machine (each lab host's PID namespace is a
    child of the machine's, so /proc here shows them all), read in a loop while a run
    goes: what `ps` would show any user of a host. Each --env-file it sees is stat'ed
    through the process's own root."""

    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()
        self.leaks: list[str] = []
        self.env_files: dict[str, tuple[int, int]] = {}   # path -> (mode, uid)
        self.scans = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> ArgvWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.scans += 1
            for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
                try:
                    argv = Path(cmdline).read_bytes().split(b"\0")
                except OSError:
                    continue
                if any(self.secret in argument for argument in argv):
                    self.leaks.append(b" ".join(argv).decode(errors="replace")[:300])
                if b"--env-file" in argv:
                    self._stat(Path(cmdline).parent, argv)

    def _stat(self, proc: Path, argv: list[bytes]) -> None:
        index = argv.index(b"--env-file") + 1
        if index >= len(argv) or argv[0].endswith(b"sh"):
            return   # the shell that runs the script, not docker
        path = argv[index].decode()
        with contextlib.suppress(OSError):
            found = os.stat(f"{proc}/root{path}")
            self.env_files[path] = (stat.S_IMODE(found.st_mode), found.st_uid)


def test_container_env_never_reaches_a_host_argv_and_travels_in_a_0600_env_file(
        deploy: Deploy, tmp_path: Path) -> None:
    """Issue 14, item 4: `ps` and /proc/*/cmdline show a process's arguments to every
    user of a host; a container's env goes in a 0600 env file instead (--env-file)."""
    secret = f"s3cret-{uuid.uuid4().hex}"
    values = tmp_path / "secret.json"   # not in play's own argv either
    values.write_text(json.dumps({"greeting": secret}))
    with ArgvWatch(secret) as watch:
        first = deploy.run("-e", f"@{values}")
    assert first.returncode == 0, first.stdout[-3000:]
    assert watch.scans > 10
    assert not watch.leaks, watch.leaks
    assert watch.env_files, "docker was seen reading an --env-file"
    # the deploy user of the hosts' own root (lab hosts are machines of their own)
    deploy_uid = int(deploy.lab.run(deploy.lab.host("lab1"), "id", "-u").stdout)
    assert set(watch.env_files.values()) == {(0o600, deploy_uid)}, watch.env_files
    for host in ("lab1", "lab2", "lab3"):
        seen = deploy.lab.run(deploy.lab.host(host), "docker", "exec", deploy.service, "env")
        assert f"GREETING={secret}" in seen.stdout.split("\n"), seen
        left = deploy.lab.sh(deploy.lab.host(host),
                             f"ls -A /var/lib/play/env/{deploy.service}")
        assert left.returncode == 0 and left.stdout == "", "the env file is gone once read"
    assert secret not in first.stdout
    before = deploy.web("lab1")
    changed_secret = f"{secret}-2"
    values.write_text(json.dumps({"greeting": changed_secret}))
    with ArgvWatch(changed_secret) as watch:
        second = deploy.run("-e", f"@{values}")
    assert second.returncode == 0, second.stdout[-3000:]
    assert not watch.leaks, watch.leaks
    after = deploy.web("lab1")
    assert before is not None and after is not None and after["id"] != before["id"]
    assert f"GREETING={changed_secret}" in after["env"]  # type: ignore[operator]
    labels = deploy.lab.run(deploy.lab.host("lab1"), "docker", "inspect", "--format",
                            "{{json .Config.Labels}}", deploy.service).stdout
    assert secret not in labels
