"""The rollout policy between serial batches: max_fail_percentage and any_errors_fatal."""

from __future__ import annotations

from pathlib import Path

from engine.inventory import load_inventory
from engine.plan import Plan, plan_run
from engine.playbook import load_playbook
from engine.results import StepResult
from engine.rollout import Rollout


def _plan(tmp_path: Path, policy: str, serial: int = 2) -> Plan:
    (tmp_path / "hosts.ini").write_text(
        "[web]\n" + "".join(f"w{index} address=127.0.0.9\n" for index in range(1, 7)))
    (tmp_path / "site.yml").write_text(
        f"- name: web\n  hosts: web\n  serial: {serial}\n{policy}  tasks:\n"
        "    - {name: one, command: echo 1}\n")
    inventory = load_inventory([tmp_path / "hosts.ini"])
    return plan_run(load_playbook(tmp_path / "site.yml"), inventory)


def test_without_a_limit_only_a_whole_failed_batch_stops_the_later_ones(tmp_path: Path) -> None:
    rollout = Rollout(_plan(tmp_path, ""))
    rollout.record(StepResult("w1", "0/task/one", "failed"))
    assert rollout.veto(("w3", "0/task/one")) is None
    rollout.record(StepResult("w2", "0/task/one", "unreachable"))
    assert rollout.veto(("w2", "0/task/one")) is None  # its own batch goes on
    reason = rollout.veto(("w5", "0/task/one"))
    assert reason is not None and "2 of 2 hosts failed" in reason


def test_max_fail_percentage_stops_later_batches_past_the_limit(tmp_path: Path) -> None:
    rollout = Rollout(_plan(tmp_path, "  max_fail_percentage: 49\n"))
    rollout.record(StepResult("w3", "0/task/one", "failed", is_ignored=True))
    assert rollout.veto(("w5", "0/task/one")) is None  # an ignored failure is no failure
    rollout.record(StepResult("w4", "0/task/one", "failed"))
    assert rollout.veto(("w1", "0/task/one")) is None  # an earlier batch is not held back
    assert "1 of 2 hosts failed" in str(rollout.veto(("w5", "0/task/one")))


def test_any_errors_fatal_stops_every_host_of_the_play(tmp_path: Path) -> None:
    rollout = Rollout(_plan(tmp_path, "  any_errors_fatal: true\n", serial=6))
    rollout.record(StepResult("w6", "0/task/one", "failed"))
    assert "any_errors_fatal and w6 failed" in str(rollout.veto(("w1", "0/task/one")))
