"""Ansible's structure on the lab: a role with block / rescue / always, its handler
notified through `listen:`, gathered facts in a role's template, and delegate_to."""

from __future__ import annotations

import pytest
from lab_client import E2E_DATA, Lab, play

pytestmark = pytest.mark.lab


def test_a_role_rescues_a_failed_release_and_its_listening_handler_runs(
        lab: Lab, srv_dir: str) -> None:
    result = play(str(E2E_DATA / "roles.yml"), "-i", str(lab.inventory),
                  "-e", f"dir={srv_dir}", "-e", "release_fails_on=lab2")
    assert result.returncode == 0, result.stdout + result.stderr  # lab2 was rescued
    assert "release : Roll back" in result.stdout
    for host in ("lab1", "lab3"):
        machine = lab.host(host)
        release = lab.run(machine, "cat", f"{srv_dir}/release").stdout
        assert release.startswith(f"release 2 on {host} (Debian)"), release
        assert lab.run(machine, "cat", f"{srv_dir}/announced").stdout == "announced\n"
    lab2 = lab.host("lab2")
    assert lab.run(lab2, "cat", f"{srv_dir}/release").stdout == "rolled back\n"
    for host in lab.hosts:
        assert lab.run(host, "cat", f"{srv_dir}/attempt").stdout == "attempted\n"
    # delegated to lab1, rendered with each host's own facts
    lab1 = lab.host("lab1")
    for host in ("lab1", "lab2", "lab3"):
        seen = lab.run(lab1, "cat", f"{srv_dir}/seen-{host}").stdout.strip()
        assert seen == lab.run(lab.host(host), "uname", "-n").stdout.strip().split(".")[0]
    assert lab.run(lab.host("lab2"), "test", "-e", f"{srv_dir}/seen-lab2").returncode == 1
