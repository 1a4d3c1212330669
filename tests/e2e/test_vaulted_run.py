"""Vaulted values on the lab: decrypted with the passwords given, written to the hosts,
hidden in every output of the run (--json events, the -vv trace, --diff)."""

from __future__ import annotations

import pytest
from lab_client import E2E_DATA, ROOT, Lab, play

pytestmark = pytest.mark.lab

VAULT_DATA = ROOT / "tests" / "data" / "vault"
PLAINTEXTS = ("play-vars-t0ken", "vars-file-m4il")


def test_vaulted_values_reach_the_host_and_never_the_output(lab: Lab, srv_dir: str) -> None:
    common = (str(E2E_DATA / "vault.yml"), "-i", str(lab.inventory), "-e", f"dir={srv_dir}",
              "--vault-id", f"dev@{VAULT_DATA / 'dev-password.txt'}", "--diff")
    traced = play(*common, "-vv", "-l", "lab1")
    assert traced.returncode == 0, traced.stdout + traced.stderr
    events = play(*common, "--json")
    assert events.returncode == 0, events.stdout + events.stderr
    for host in lab.hosts:
        written = lab.run(host, "cat", f"{srv_dir}/app.env").stdout
        assert written == (f"API_TOKEN=play-vars-t0ken\nSMTP_PASSWORD=vars-file-m4il\n"
                           f"HOST={host.name}\n")
    assert "API_TOKEN=********" in traced.stdout  # the diff and the cat's output, masked
    assert '"status": "changed"' in events.stdout  # lab2 and lab3 were written by it
    for output in (traced.stdout, traced.stderr, events.stdout, events.stderr):
        for plaintext in PLAINTEXTS:
            assert plaintext not in output


def test_a_run_without_the_vault_password_touches_no_host(lab: Lab, srv_dir: str) -> None:
    result = play(str(E2E_DATA / "vault.yml"), "-i", str(lab.inventory), "-e", f"dir={srv_dir}")
    assert result.returncode == 4
    assert "vault.yml:7: this value is encrypted with ansible-vault" in result.stderr
    for host in lab.hosts:
        assert lab.run(host, "test", "-e", srv_dir).returncode == 1
