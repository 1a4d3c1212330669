"""Hostile values on the lab (tests/hostile_corpus.py): every value play accepts arrives on
the host verbatim (files, docker inspect, registry records) and executes nothing (no
`play-canary*` file appears on any host or here). The values play refuses are checked
without a lab, in tests/unit/test_hostile_input.py, which classifies them the same way.

Few runs: each field's accepted values are batched into one playbook, run on lab1.
Values that look like Jinja2 are left out here: play renders them (SPEC), as the unit
test checks; everything else must come back byte for byte.
"""

from __future__ import annotations

import glob
import io
import json
import shlex
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hostile_corpus as corpus
import pytest
import yaml
from lab_client import Lab, LabMachine, play, private_registry

pytestmark = pytest.mark.lab

IMAGE = "play-lab/busybox:latest"
LABEL = "e2e.hostile"   # on every container these tests create: how they are cleaned up
SLEEP = ["sh", "-c", "exec sleep 100000", "--"]


@dataclass
class Hostile:
    """One test's own names on the lab: a container label value, a directory under lab1's
    private /srv, a file registry in tmp_path."""

    lab: Lab
    prefix: str
    folder: Path
    inventory: Path
    registry_root: Path
    volumes: list[str]   # named volumes the test's containers create, removed afterwards

    @property
    def host(self) -> LabMachine:
        return self.lab.host("lab1")

    @property
    def remote_dir(self) -> str:
        return f"/srv/e2e-{self.prefix}"

    def play(self, playbook: Path, *arguments: str,
             inventory: Path | None = None) -> subprocess.CompletedProcess[str]:
        return play(str(playbook), "-i", str(inventory or self.inventory), *arguments,
                    timeout=900)

    def bytes_of(self, command: list[str]) -> bytes:
        """stdout of a command on lab1, as bytes (text mode would turn \\r\\n into \\n)."""
        result = subprocess.run(self.lab.ssh_argv(self.host, shlex.join(command)),
                                capture_output=True, timeout=300, check=False)
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        return result.stdout

    def read_tree(self, path: str) -> dict[str, bytes]:
        """Every file under `path` on lab1: relative path -> content, through one tar."""
        packed = io.BytesIO(self.bytes_of(["tar", "-C", path, "-cf", "-", "."]))
        files = {}
        with tarfile.open(fileobj=packed) as archive:
            for member in archive:
                content = archive.extractfile(member) if member.isfile() else None
                if content is not None:
                    files[member.name.removeprefix("./")] = content.read()
        return files

    def inspect(self) -> dict[str, dict[str, Any]]:
        """name -> `docker inspect` of every container this test made on lab1."""
        listed = self.bytes_of(["sh", "-c", f"docker ps -aq --filter label={LABEL}={self.prefix}"
                                            " | xargs -r docker inspect"])
        items = json.loads(listed.decode("utf-8") or "[]")
        return {item["Name"].removeprefix("/"): item for item in items}


def lab_vars(lab: Lab) -> dict[str, Any]:
    """The lab group's vars: how play reaches a lab host (user, port, key, known_hosts)."""
    document = yaml.safe_load(lab.inventory.read_text())
    return dict(document["all"]["children"]["lab"]["vars"])


@pytest.fixture
def hostile(lab: Lab, tmp_path: Path) -> Iterator[Hostile]:
    prefix = f"h{uuid.uuid4().hex[:6]}"
    inventory, registry_root = private_registry(lab, tmp_path)
    test = Hostile(lab, prefix, tmp_path, inventory, registry_root, [])
    yield test
    host = test.host
    lab.sh(host, f"docker ps -aq --filter label={LABEL}={prefix} | xargs -r docker rm -f")
    if test.volumes:
        lab.run(host, "docker", "volume", "rm", "-f", "--", *test.volumes)
    # what Docker created as root for bind mounts, and the test's directory
    lab.run(host, "docker", "run", "--rm", "--network", "host", "-v", "/srv:/lab-srv", IMAGE,
            "rm", "-rf", f"/lab-srv/e2e-{prefix}", "/lab-srv/play-hostile")


def assert_no_canary(lab: Lab) -> None:
    """No injection payload ran: no play-canary* in /tmp here (the lab hosts share it) nor
    in any lab host's private /srv."""
    here = [path for pattern in corpus.CANARY_GLOBS for path in glob.glob(pattern)]
    assert here == [], f"canary files on the control machine: {here}"
    for host in lab.hosts:
        found = lab.sh(host, "ls -d " + " ".join(corpus.CANARY_GLOBS) + " 2>/dev/null; true")
        assert found.stdout.strip() == "", f"canary files on {host.name}: {found.stdout}"


def _failure(result: subprocess.CompletedProcess[str]) -> str:
    # the lines of what failed first: with hundreds of hosts the recap alone fills the tail
    failed = [line for line in result.stdout.splitlines()
              if any(word in line for word in ("failed", "unreachable", "error"))
              and not line.lstrip().startswith(("host ", "recap"))][:20]
    return (f"exit {result.returncode}\n" + "\n".join(failed)
            + f"\n...\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")


def _verbatim(values: list[str]) -> list[str]:
    return [value for value in values if corpus.is_shown_verbatim(value)]


# --- tasks: command arguments, copied content, template destinations and sources ---------


def test_task_values_arrive_verbatim_and_execute_nothing(hostile: Hostile) -> None:
    batch = corpus.TaskBatch.accepted(hostile.folder / "classify")
    playbook, extra = batch.write(hostile.folder / "tasks", "lab1", hostile.remote_dir)
    result = hostile.play(playbook, *extra)
    assert result.returncode == 0, _failure(result)
    found = hostile.read_tree(hostile.remote_dir)
    expected = batch.expected(hostile.folder / "tasks")
    assert sorted(found) == sorted(expected)
    differing = {name: (found[name][:80], expected[name][:80]) for name in expected
                 if found[name] != expected[name]}
    assert differing == {}
    assert_no_canary(hostile.lab)


# --- containers: names, env names and values, labels, volumes, command arguments ----------


def _accepted(hostile: Hostile, field: str) -> list[str]:
    """The field's accepted values written literally in the YAML (as here), not Jinja2."""
    return _verbatim(corpus.accepted_values(field, "literal", hostile.folder / "classify"))


def _volumes(hostile: Hostile) -> list[str]:
    """Accepted volume sources that can be mounted here without making directories outside
    the lab host's private /srv (Docker creates a missing source; / is shared with this
    machine): named volumes, paths under /srv, paths that exist."""
    chosen = []
    for value in _accepted(hostile, "volume_host"):
        if not value.startswith("/"):
            hostile.volumes.append(value)
            chosen.append(value)
        elif value.startswith("/srv/") or hostile.lab.run(hostile.host, "test", "-e",
                                                          value).returncode == 0:
            chosen.append(value)
    return chosen


@dataclass(frozen=True)
class ContainerBatch:
    env_values: list[str]
    env_names: list[str]
    label_values: list[str]
    label_names: list[str]
    arguments: list[str]
    names: list[str]
    volumes: list[str]

    def containers(self, prefix: str) -> list[dict[str, Any]]:
        """One container per field, so that no `docker run` line nears the 128 KiB a single
        argument (the remote shell's -c line) may hold; one container per accepted name."""
        def box(suffix: str, **keys: Any) -> dict[str, Any]:
            labels = {LABEL: prefix, **keys.pop("labels", {})}
            return {"name": f"{prefix}-{suffix}", "image": IMAGE, "network": "host",
                    "command": keys.pop("command", [*SLEEP]), "stop_timeout": 1,
                    "labels": labels, **keys}
        return [
            box("env-values", env={f"V{i:03d}": value for i, value in enumerate(self.env_values)}),
            box("env-names", env={name: f"N{i:03d}" for i, name in enumerate(self.env_names)}),
            box("label-values", labels={f"v{i:03d}": value
                                        for i, value in enumerate(self.label_values)}),
            box("label-names", labels={name: f"n{i:03d}"
                                       for i, name in enumerate(self.label_names)}),
            box("arguments", command=[*SLEEP, *self.arguments]),
            box("volumes", volumes=[f"{value}:/hostile/{i}:ro"
                                    for i, value in enumerate(self.volumes)]),
            *({"name": name, "image": IMAGE, "network": "host", "command": [*SLEEP],
               "stop_timeout": 1, "labels": {LABEL: prefix}} for name in self.names),
        ]


@dataclass(frozen=True)
class ServiceBatch:
    names: list[str]
    tags: list[str]
    meta: list[str]

    def services(self, prefix: str) -> list[dict[str, Any]]:
        container = f"{prefix}-env-values"
        return [
            *({"name": name, "container": container, "port": 8080} for name in self.names),
            {"name": f"{prefix}-tags", "container": container, "port": 8080,
             "tags": self.tags},
            {"name": f"{prefix}-meta", "container": container, "port": 8080,
             "meta": {f"m{i:03d}": value for i, value in enumerate(self.meta)}},
        ]


def test_container_and_service_values_arrive_verbatim_and_execute_nothing(
        hostile: Hostile) -> None:
    containers = ContainerBatch(
        _accepted(hostile, "env_value"), _accepted(hostile, "env_key"),
        _accepted(hostile, "label_value"), _accepted(hostile, "label_key"),
        _accepted(hostile, "command_arg"), _accepted(hostile, "container_name"),
        _volumes(hostile))
    services = ServiceBatch(_accepted(hostile, "service_name"),
                            _accepted(hostile, "service_tag"),
                            _accepted(hostile, "service_meta"))
    playbook = hostile.folder / "containers.yml"
    playbook.write_text(corpus.dump([{
        "name": "hostile containers", "hosts": "lab1",
        "containers": containers.containers(hostile.prefix),
        "services": services.services(hostile.prefix)}]))
    result = hostile.play(playbook)
    assert result.returncode == 0, _failure(result)

    found = hostile.inspect()
    p = hostile.prefix
    assert set(containers.names) <= set(found), sorted(set(containers.names) - set(found))
    env = set(found[f"{p}-env-values"]["Config"]["Env"])
    assert [value for i, value in enumerate(containers.env_values)
            if f"V{i:03d}={value}" not in env] == []
    env = set(found[f"{p}-env-names"]["Config"]["Env"])
    assert [name for i, name in enumerate(containers.env_names)
            if f"{name}=N{i:03d}" not in env] == []
    labels = found[f"{p}-label-values"]["Config"]["Labels"]
    assert [value for i, value in enumerate(containers.label_values)
            if labels.get(f"v{i:03d}") != value] == []
    labels = found[f"{p}-label-names"]["Config"]["Labels"]
    assert [name for i, name in enumerate(containers.label_names)
            if labels.get(name) != f"n{i:03d}"] == []
    config = found[f"{p}-arguments"]["Config"]
    assert config["Cmd"] == [*SLEEP, *containers.arguments]
    binds = found[f"{p}-volumes"]["HostConfig"]["Binds"] or []
    # Docker keeps binds in its own order; each one must be there verbatim
    assert sorted(binds) == sorted(f"{value}:/hostile/{i}:ro"
                                   for i, value in enumerate(containers.volumes))

    records = {}
    for path in hostile.registry_root.glob("*/*.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        records[record["service"]] = record
        assert path.name == f"{record['service']}@lab1.json"
    assert [name for name in services.names if name not in records] == []
    assert records[f"{p}-tags"]["tags"] == services.tags
    assert records[f"{p}-meta"]["meta"] == {f"m{i:03d}": value
                                            for i, value in enumerate(services.meta)}
    assert_no_canary(hostile.lab)


# --- inventory host names ---------------------------------------------------------------


def test_host_names_arrive_verbatim_and_execute_nothing(hostile: Hostile) -> None:
    """Every accepted name as an alias of lab1 (its address, the lab's SSH settings), each
    writing its own name; the deploy lock holds a directory per name. Some forks, not 50:
    every alias is one more SSH connection to the same sshd (the lab allows 100 starting
    at once)."""
    batch = corpus.HostBatch.accepted(hostile.folder / "classify")
    group_vars = {**lab_vars(hostile.lab), "registry": {"root": str(hostile.registry_root)}}
    playbook, inventory = batch.write(hostile.folder / "hosts", hostile.remote_dir,
                                      {"address": hostile.host.address}, group_vars)
    result = hostile.play(playbook, "-f", "20", inventory=inventory)
    assert result.returncode == 0, _failure(result)
    assert hostile.read_tree(hostile.remote_dir) == batch.expected()
    assert list((hostile.registry_root / ".locks").glob("*")) == []
    assert_no_canary(hostile.lab)
