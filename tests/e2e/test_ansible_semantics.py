"""The rest of issue 19 on the lab (tests/data/e2e/ansible_semantics.yml): what each
construct leaves on the host, as ansible-playbook would leave it."""

from __future__ import annotations

import uuid

import pytest
from lab_client import E2E_DATA, Lab, play

pytestmark = pytest.mark.lab


def test_ansible_semantics_on_a_real_host(lab: Lab, srv_dir: str) -> None:
    tag = uuid.uuid4().hex[:8]
    result = play(str(E2E_DATA / "ansible_semantics.yml"), "-i", str(lab.inventory),
                  "-e", f"dir={srv_dir}", "-e", f"tag={tag}")
    assert result.returncode == 0, result.stdout + result.stderr
    lab1 = lab.host("lab1")

    def cat(path: str) -> str:
        return lab.run(lab1, "cat", path).stdout

    # handlers flushed after pre_tasks, after tasks, after post_tasks
    assert cat(f"{srv_dir}/order").split() == ["pre", "handler", "task", "handler", "post",
                                              "handler"]
    # include_tasks once per item, with its loop var and index
    assert cat(f"{srv_dir}/site-shop.conf") == "listen 8081 (0)\n"
    assert cat(f"{srv_dir}/site-blog.conf") == "listen 8082 (1)\n"
    assert cat(f"{srv_dir}/app.conf") == "a=first\nlisten 0.0.0.0:80\nb\na=2\nb\n"
    assert cat(f"{srv_dir}/keys/deploy") == (
        'from="10.0.0.0/8",no-pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlayE2e e2e@lab\n')
    assert lab.run(lab1, "stat", "-c", "%a", f"{srv_dir}/keys/deploy").stdout == "600\n"
    assert cat(f"{srv_dir}/env") == "play block block task\n"
    try:
        assert cat(f"/tmp/e2e-become-{tag}") == "nobody\n"  # the variable beats the keyword
    finally:
        lab.sh(lab1, f"sudo -n rm -f /tmp/e2e-become-{tag}")
    assert "hello lab1" in result.stdout
    assert "(handlers notified in" in result.stdout  # the flushes ran the handler
    second = play(str(E2E_DATA / "ansible_semantics.yml"), "-i", str(lab.inventory),
                  "-e", f"dir={srv_dir}", "-e", f"tag={tag}", "--check")
    assert "changed     task keys in another file" not in second.stdout
    assert "changed     task replace by literal text" not in second.stdout
