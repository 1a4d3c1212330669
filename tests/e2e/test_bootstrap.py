"""bootstrap.yml on a lab host: a second run changes nothing.

Lab hosts share this machine's root filesystem (all but /srv and /var/lib/play), so
this also writes /etc/ssh/sshd_config.d/50-play.conf and adds deploy to the docker
group on the machine running the tests; nothing there reads them while the lab runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lab_client import ROOT, Lab, play

pytestmark = pytest.mark.lab


def test_bootstrap_twice_second_run_reports_no_changes(lab: Lab) -> None:
    public_key = Path(str(lab.key) + ".pub").read_text().strip()
    arguments = (str(ROOT / "playbooks" / "bootstrap.yml"), "-i", str(lab.inventory),
                 "-l", "lab1", "-e", f"deploy_key={public_key}")
    first = play(*arguments)
    assert first.returncode == 0, first.stdout + first.stderr
    second = play(*arguments)
    assert second.returncode == 0, second.stdout + second.stderr
    recap = next(line for line in second.stdout.splitlines() if line.startswith("lab1 "))
    ok, changed, failed = (int(field) for field in recap.split()[1:4])
    assert (changed, failed) == (0, 0), second.stdout
    assert ok >= 9
    host = lab.host("lab1")
    assert "docker" in lab.run(host, "id", "-Gn", "deploy").stdout.split()
    assert lab.run(host, "test", "-d", "/var/lib/play").returncode == 0
