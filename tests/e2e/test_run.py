"""`play PLAYBOOK` on the lab: real sshd, real hosts. Statuses, skips, output, secrets."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from lab_client import E2E_DATA, ROOT, Lab, json_events, play

from engine.results import RECAP_COLUMNS

pytestmark = pytest.mark.lab


def run_play(lab: Lab, playbook: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return play(str(E2E_DATA / playbook), "-i", str(lab.inventory), *arguments)


def recap_line(stdout: str, host: str) -> list[int]:
    for line in stdout.splitlines():
        if line.startswith(host + " ") and "wall" not in line:
            fields = line.split()
            if len(fields) == 1 + len(RECAP_COLUMNS) and all(field.isdigit()
                                                               for field in fields[1:]):
                return [int(field) for field in fields[1:]]
    raise AssertionError(f"no recap line for {host} in:\n{stdout}")


def test_failing_step_skips_only_its_dependents(lab: Lab, srv_dir: str) -> None:
    result = run_play(lab, "partial_failure.yml", "-e", f"dir={srv_dir}")
    assert result.returncode == 2, result.stdout + result.stderr
    # ok, changed, failed, skipped, unreachable, ignored, rescued
    assert recap_line(result.stdout, "lab2")[2] == 1
    for host in ("lab1", "lab3"):
        assert lab.run(lab.host(host), "cat", f"{srv_dir}/done").stdout == "done\n"
    assert lab.run(lab.host("lab2"), "test", "-e", f"{srv_dir}/done").returncode == 1
    lines = result.stdout.splitlines()
    assert any("lab2 skipped" in line and "mark done" in line for line in lines)
    assert any("lab2 changed" in line and "independent" in line for line in lines)


def test_second_run_reports_no_changes_and_handler_runs_once(lab: Lab, srv_dir: str) -> None:
    first = run_play(lab, "files.yml", "-e", f"dir={srv_dir}")
    assert first.returncode == 0, first.stdout + first.stderr
    assert lab.run(lab.host("lab1"), "cat", f"{srv_dir}/handler").stdout == "handler ran\n"
    second = run_play(lab, "files.yml", "-e", f"dir={srv_dir}")
    assert second.returncode == 0
    for host in ("lab1", "lab2", "lab3"):
        assert recap_line(second.stdout, host)[1] == 0, second.stdout
    assert "say changed" not in second.stdout


def test_check_changes_nothing_and_predicts_the_real_run(lab: Lab, srv_dir: str) -> None:
    check = run_play(lab, "files.yml", "-e", f"dir={srv_dir}", "--check", "--json")
    assert check.returncode == 6, check.stdout + check.stderr  # drift found
    for host in lab.hosts:
        assert lab.run(host, "test", "-e", srv_dir).returncode == 1
    real = run_play(lab, "files.yml", "-e", f"dir={srv_dir}", "--json")
    assert real.returncode == 0, real.stdout + real.stderr

    def changed(stdout: str) -> set[tuple[object, object]]:
        return {(e["host"], e["step"]) for e in json_events(stdout)
                if e["event"] == "step_end" and e["status"] == "changed"}

    assert changed(check.stdout) == changed(real.stdout)
    assert len(changed(real.stdout)) >= 9


def test_diff_shows_how_a_file_changes(lab: Lab, srv_dir: str) -> None:
    assert run_play(lab, "files.yml", "-e", f"dir={srv_dir}", "-l", "lab1").returncode == 0
    result = run_play(lab, "files.yml", "-e", f"dir={srv_dir}", "-l", "lab1", "-e",
                      "version=2", "--diff")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "-version=1" in result.stdout and "+version=2" in result.stdout


def test_json_events_describe_the_run(lab: Lab, srv_dir: str) -> None:
    result = run_play(lab, "files.yml", "-e", f"dir={srv_dir}", "--json")
    events = json_events(result.stdout)
    kinds = [event["event"] for event in events]
    assert kinds[0] == "run_start" and kinds[-1] == "recap"
    ends = [event for event in events if event["event"] == "step_end"]
    assert {"host", "step", "status", "changed", "duration", "msg", "diff"} <= set(ends[0])
    assert kinds.count("step_start") == len(ends)


def test_log_file_gets_the_plain_lines(lab: Lab, srv_dir: str, tmp_path: Path) -> None:
    log = tmp_path / "play.log"
    result = run_play(lab, "files.yml", "-e", f"dir={srv_dir}", "--json", "--log", str(log))
    assert result.returncode == 0
    text = log.read_text()
    assert "lab2 changed" in text and "RECAP" in text


def test_secrets_never_reach_console_json_or_log(lab: Lab, srv_dir: str,
                                                   tmp_path: Path) -> None:
    token = uuid.uuid4().hex
    secret = f"s3cr3t-{token}"
    outputs = []
    for extra in ([], ["--json"], ["--diff"]):
        log = tmp_path / f"log{len(outputs)}"
        result = run_play(lab, "secrets.yml", "-e", f"dir={srv_dir}", "-e", f"token={token}",
                          "-e", f"become_password=bp-{token}",
                          "-e", f"ansible_become_pass=abp-{token}", "--log", str(log), *extra)
        assert result.returncode == 0, result.stdout + result.stderr
        outputs += [result.stdout, result.stderr, log.read_text()]
    assert lab.run(lab.host("lab1"), "cat", f"{srv_dir}/secret").stdout == secret + "\n"
    for text in outputs:
        assert token not in text
    assert any("********" in text for text in outputs)



def test_escape_sequences_from_a_host_reach_console_and_log_escaped(lab: Lab,
                                                                    tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    plain = run_play(lab, "hostile_output.yml", "--log", str(log))
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    for text in (plain.stdout, log.read_text()):
        assert "\x1b" not in text and "\x07" not in text
        assert "bad \\x1b]0;pwned\\x07 \\x1b[2J end" in text
    as_json = run_play(lab, "hostile_output.yml", "--json")
    failed = [event for event in json_events(as_json.stdout) if event.get("status") == "failed"]
    assert len(failed) == 1 and "bad \x1b]0;pwned\x07 \x1b[2J end" in failed[0]["msg"]


def test_rolling_serial_stops_at_the_first_failed_batch(lab: Lab) -> None:
    result = run_play(lab, "rolling.yml", "-e", "fail_on=lab2", "--json")
    assert result.returncode == 2
    statuses = {e["host"]: e["status"] for e in json_events(result.stdout)
                if e["event"] == "step_end"}
    assert statuses == {"lab1": "changed", "lab2": "failed", "lab3": "skipped"}


def test_unreachable_host_is_exit_3_and_others_complete(lab: Lab, srv_dir: str,
                                                         tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    shutil.copy(lab.inventory, inventory)
    inventory.write_text(inventory.read_text().replace(
        'address: "10.250.0.13"', 'address: "10.250.0.13"\n          port: 2222'))
    result = play(str(E2E_DATA / "files.yml"), "-i", str(inventory), "-e", f"dir={srv_dir}")
    assert result.returncode == 3, result.stdout + result.stderr
    assert recap_line(result.stdout, "lab3")[4] == 1
    assert lab.run(lab.host("lab1"), "test", "-f", f"{srv_dir}/motd").returncode == 0


def _inventory_with_known_hosts(lab: Lab, tmp_path: Path, known_hosts: str,
                                policy: str = "strict") -> Path:
    path = tmp_path / "known_hosts"
    path.write_text(known_hosts)
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(lab.inventory.read_text()
                         .replace(str(lab.known_hosts), str(path))
                         .replace('host_key_policy: "strict"', f'host_key_policy: "{policy}"'))
    return inventory


def test_changed_host_key_is_refused_with_how_to_fix(lab: Lab, tmp_path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(tmp_path / "other")], check=True)
    other = (tmp_path / "other.pub").read_text().split()
    lines = []
    for line in lab.known_hosts.read_text().splitlines():
        if line.startswith("10.250.0.12 "):
            line = f"10.250.0.12 {other[0]} {other[1]}"
        lines.append(line)
    for policy in ("strict", "accept-new"):
        inventory = _inventory_with_known_hosts(lab, tmp_path, "\n".join(lines) + "\n", policy)
        result = play(str(E2E_DATA / "rolling.yml"), "-i", str(inventory), "-e", "fail_on=none")
        assert result.returncode == 3, result.stdout + result.stderr
        assert "HOST KEY CHANGED" in result.stdout and "ssh-keygen -R" in result.stdout
        assert recap_line(result.stdout, "lab1")[1] == 1  # lab1 still ran its step


def test_unknown_host_key_strict_refuses_accept_new_records(lab: Lab, tmp_path: Path) -> None:
    kept = "".join(line + "\n" for line in lab.known_hosts.read_text().splitlines()
                   if not line.startswith("10.250.0.13 "))
    strict = _inventory_with_known_hosts(lab, tmp_path, kept)
    refused = play(str(E2E_DATA / "rolling.yml"), "-i", str(strict), "-e", "fail_on=none")
    assert refused.returncode == 3
    assert "ssh-keyscan" in refused.stdout and "accept-new" in refused.stdout
    accept = _inventory_with_known_hosts(lab, tmp_path, kept, "accept-new")
    accepted = play(str(E2E_DATA / "rolling.yml"), "-i", str(accept), "-e", "fail_on=none")
    assert accepted.returncode == 0, accepted.stdout
    assert "10.250.0.13 " in (tmp_path / "known_hosts").read_text()


HOSTILE = "a 'b' \"c\" $(touch /tmp/play-canary) `touch /tmp/play-canary`; *? \\ \n end"


def test_hostile_values_arrive_verbatim_and_execute_nothing(lab: Lab, srv_dir: str,
                                                           tmp_path: Path) -> None:
    vars_file = tmp_path / "vars.yml"
    import json

    vars_file.write_text(json.dumps({"dir": srv_dir, "hostile": HOSTILE,
                                     "hostile_name": "x $(touch canary);`y`"}))
    result = run_play(lab, "hostile.yml", "-e", f"@{vars_file}")
    assert result.returncode == 0, result.stdout + result.stderr
    host = lab.host("lab1")
    assert lab.run(host, "cat", f"{srv_dir}/content").stdout == HOSTILE
    assert lab.run(host, "cat", f"{srv_dir}/echoed").stdout == HOSTILE
    assert lab.run(host, "test", "-f", f"{srv_dir}/x $(touch canary);`y`"
                   ).returncode == 0
    assert not os.path.exists("/tmp/play-canary")


def test_sigint_lets_the_step_in_flight_finish_and_exits_130(lab: Lab, srv_dir: str) -> None:
    lab.run(lab.host("lab1"), "mkdir", "-p", srv_dir)
    process = subprocess.Popen([sys.executable, "-m", "engine", str(E2E_DATA / "slow.yml"),
                                "-i", str(lab.inventory), "-e", f"dir={srv_dir}"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    # the signal comes once the step is in flight, however slow start-up is today
    deadline = time.monotonic() + 60
    while lab.run(lab.host("lab1"), "test", "-e", f"{srv_dir}/started").returncode != 0:
        assert process.poll() is None and time.monotonic() < deadline, "the step never started"
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stdout + stderr
    assert "lab1 changed" in stdout and "sleep" in stdout  # the step in flight finished
    assert lab.run(lab.host("lab1"), "test", "-e", f"{srv_dir}/after").returncode == 1


def test_any_errors_fatal_stops_the_play_on_every_host(lab: Lab) -> None:
    result = run_play(lab, "fatal.yml", "--json")
    assert result.returncode == 2
    third = {e["host"]: e["status"] for e in json_events(result.stdout)
             if e["event"] == "step_end" and e["step"] == "task third"}
    assert third == {"lab1": "skipped", "lab2": "skipped", "lab3": "skipped"}


def test_ssh_gateway_reaches_a_host_through_another(lab: Lab, srv_dir: str,
                                                   tmp_path: Path) -> None:
    import yaml

    document = yaml.safe_load(lab.inventory.read_text())
    lab_group = document["all"]["children"]["lab"]
    lab_group["hosts"]["lab2"]["ssh_gateway"] = "deploy@10.250.0.11"
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump(document))
    result = play(str(E2E_DATA / "files.yml"), "-i", str(inventory), "-l", "lab2",
                  "-e", f"dir={srv_dir}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert lab.run(lab.host("lab2"), "test", "-f", f"{srv_dir}/motd").returncode == 0


def test_verbose_shows_commands_and_output_and_a_failed_run_writes_its_retry_file(
        lab: Lab, srv_dir: str, tmp_path: Path) -> None:
    retry = tmp_path / "partial_failure.retry"
    result = run_play(lab, "partial_failure.yml", "-e", f"dir={srv_dir}", "-vvv",
                      "--retry-file", str(retry))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any("lab2 $ false  (rc 1, " in line for line in lines)  # -v: the command line
    assert any("lab1 $ " in line and srv_dir in line for line in lines)
    assert any("lab1   stdout: " in line for line in lines)  # -vv: its output
    assert any("lab1 connected: connection ssh" in line and "target deploy@" in line
               for line in lines)  # -vvv: how the host was reached
    assert retry.read_text() == "lab2\n", result.stdout[-3000:]
    again = run_play(lab, "partial_failure.yml", "-e", f"dir={srv_dir}", "--limit",
                     f"@{retry}", "--retry-file", str(retry))
    assert again.returncode == 2, again.stdout + again.stderr
    assert recap_line(again.stdout, "lab2")[2] == 1
    assert "lab1" not in again.stdout and "lab3" not in again.stdout
    fixed = run_play(lab, "partial_failure.yml", "-e", f"dir={srv_dir}", "--limit", "lab1",
                     "--retry-file", str(retry))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert not retry.exists()  # a run with no failed host leaves no stale list


def test_secrets_never_reach_the_verbose_output(lab: Lab, srv_dir: str) -> None:
    token = uuid.uuid4().hex
    result = run_play(lab, "secrets.yml", "-e", f"dir={srv_dir}", "-e", f"token={token}",
                      "-e", f"become_password=bp-{token}",
                      "-e", f"ansible_become_pass=abp-{token}", "-vvv", "--diff")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "lab1 $ " in result.stdout and "(command hidden by no_log)" in result.stdout
    assert token not in result.stdout + result.stderr
    assert "stdout: using ********" in result.stdout


def test_ansible_environment_chdir_and_become_user_on_a_host(lab: Lab, srv_dir: str) -> None:
    secret = f"it's $(touch /tmp/play-canary-env) {uuid.uuid4().hex}"
    result = run_play(lab, "ansible_keywords.yml", "-e", f"dir={srv_dir}", "-e",
                      json.dumps({"secret": secret}))
    assert result.returncode == 0, result.stdout + result.stderr
    lab1 = lab.host("lab1")
    assert lab.run(lab1, "cat", f"{srv_dir}/where.txt").stdout == f"{srv_dir}\n"
    assert lab.run(lab1, "cat", f"{srv_dir}/env.txt").stdout == (
        f"hello from the play\n{secret}\n")
    command_lines = lab.run(lab1, "cat", f"{srv_dir}/cmdlines.txt").stdout
    assert "for f in /proc" in command_lines and secret not in command_lines
    assert lab.run(lab1, "test", "-e", "/tmp/play-canary-env").returncode == 1
    assert lab.run(lab1, "cat", f"{srv_dir}/other.txt").stdout == (
        "nobody /tmp hello from the play\n")
