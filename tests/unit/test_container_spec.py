"""Pure container logic: spec hash, docker arguments, the reconcile decision, facts."""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest

from engine.containers.docker import create_options, run_line_problem
from engine.containers.facts import CurrentContainer, normalize_image, parse_facts
from engine.containers.reconcile import decide
from engine.containers.spec import (
    LABEL_HASH,
    desired_container,
    image_repository,
)


def spec(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "image": "busybox:1", "pull": "missing", "command": ["httpd", "-f"],
        "entrypoint": None, "env": {"A": "1"}, "ports": [], "volumes": ["/srv:/srv:ro"],
        "network": "host", "restart": "unless-stopped", "labels": {"team": "core"},
        "healthcheck": {"cmd": "true", "interval": 1.0, "timeout": None, "retries": 3,
                        "start_period": None},
        "user": None, "workdir": None, "cpus": None, "memory": None, "stop_timeout": 1,
        "state": "started", "keep_images": None}
    base.update(changes)
    return base


def current(desired_hash: str, running: bool = True, image: str = "sha256:a") -> CurrentContainer:
    return CurrentContainer("id1", "web", {LABEL_HASH: desired_hash}, "running" if running
                            else "exited", "healthy", image, "")


def test_spec_hash_is_stable_and_ignores_state_and_pull() -> None:
    first = desired_container("web", spec(), {}, "p")
    assert first.spec_hash == desired_container("web", spec(), {}, "p").spec_hash
    assert first.spec_hash == desired_container("web", spec(state="stopped", pull="always"),
                                                {}, "p").spec_hash
    assert first.spec_hash != desired_container("web", spec(env={"A": "2"}), {}, "p").spec_hash


def test_the_spec_hash_of_a_given_spec_never_changes_between_versions() -> None:
    # every running container carries its hash in a label: a new hash for the same spec
    # would recreate every container of a fleet on upgrade
    assert desired_container("web", spec(), {}, "p").spec_hash == \
        "fffc5892ae3963b0f11eb2a5f0655a18"
    assert desired_container("web", spec(healthcheck=None, command="sh -c x", labels={}), {},
                             "p").spec_hash == "cf403a1465d368571a3266f8df7d7034"


def test_a_docker_run_line_over_the_kernels_limit_is_found_before_the_step_runs() -> None:
    assert run_line_problem(desired_container("web", spec(), {}, "p")) is None
    assert run_line_problem(desired_container("web", spec(command=["echo", "a" * 120_000]),
                                              {}, "p")) is None
    problem = run_line_problem(desired_container(
        "web", spec(command=["echo", "'" * 30_000]), {}, "p"))
    assert problem is not None and "command line would be 15" in problem
    assert run_line_problem(desired_container(
        "web", spec(command=["echo", "'" * 30_000], state="absent"), {}, "p")) is None


def test_env_file_values_count_and_env_wins() -> None:
    desired = desired_container("web", spec(env={"A": "1"}), {"A": "0", "B": "2"}, "p")
    assert desired.env == (("A", "1"), ("B", "2"))


def test_create_options_put_the_image_after_double_dash() -> None:
    desired = desired_container("web", spec(image="--privileged", command=["sh", "-c", "x; y"]),
                                {}, "p")
    argv = ["docker", "create", *create_options(desired)]
    assert argv[argv.index("--") + 1] == "--privileged"
    assert argv[-3:] == ["sh", "-c", "x; y"]
    assert "--label" in argv and f"{LABEL_HASH}={desired.spec_hash}" in argv


@pytest.mark.parametrize(("state", "running", "image", "hash_ok", "notified", "work"), [
    ("started", True, "sha256:a", True, False, "none"),
    ("started", False, "sha256:a", True, False, "start"),
    ("started", True, "sha256:b", True, False, "recreate"),
    ("started", True, "sha256:a", False, False, "recreate"),
    ("started", True, "sha256:a", True, True, "restart"),
    ("stopped", True, "sha256:a", True, False, "stop"),
    ("stopped", False, "sha256:a", True, False, "none"),
])
def test_decide_does_the_least_work(state: str, running: bool, image: str, hash_ok: bool,
                                    notified: bool, work: str) -> None:
    desired = desired_container("web", spec(state=state), {}, "p")
    found = current(desired.spec_hash if hash_ok else "other", running, "sha256:a")
    assert decide(desired, found, image, notified).work == work


def test_decide_creates_missing_and_removes_absent() -> None:
    desired = desired_container("web", spec(), {}, "p")
    assert decide(desired, None, "sha256:a").work == "create"
    absent = desired_container("web", spec(state="absent"), {}, "p")
    assert decide(absent, current(absent.spec_hash), None).work == "remove"
    assert decide(absent, None, None).work == "none"


def test_parse_facts_splits_containers_and_images() -> None:
    stdout = json.dumps([
        {"Id": "c1", "Name": "/web", "Image": "sha256:i1",
         "Config": {"Labels": {"play.managed": "true"}},
         "State": {"Status": "running", "Health": {"Status": "healthy",
                                                   "Log": [{"Output": "ok\n"}]}}},
        {"Id": "sha256:i1", "RepoTags": ["busybox:latest"], "RepoDigests": []},
    ])
    facts = parse_facts(stdout, ["busybox", "missing:1"])
    assert facts.containers["web"].is_running and facts.containers["web"].health == "healthy"
    assert facts.images == {"busybox:latest": "sha256:i1"}


def test_image_names_normalize_like_docker() -> None:
    assert normalize_image("busybox") == "busybox:latest"
    assert normalize_image("reg:5000/app") == "reg:5000/app:latest"
    assert normalize_image("reg:5000/app:2") == "reg:5000/app:2"
    assert image_repository("reg:5000/app:2") == "reg:5000/app"


@pytest.mark.parametrize("reference", ["--help", "-H=tcp://evil:2375", "--config=/tmp/x"])
def test_image_references_reach_docker_after_double_dash(reference: str) -> None:
    """An image named like an option stays an image: every command that names one has
    `--` before it (issue 14, item 9)."""
    from engine.actions.docker_image import DesiredImage, fetch_command, inspect_argv
    from engine.containers.docker import _PRUNE, _PULL
    from engine.containers.facts import facts_command

    facts = facts_command([reference])
    assert "docker inspect -- $ids" in facts[2] and facts[-1] == normalize_image(reference)
    assert 'docker pull -q -- "$1"' in _PULL and '--format "{{.Id}}" -- "$1"' in _PULL
    assert '-- "$1"' in _PRUNE and 'docker rmi -- "$image"' in _PRUNE
    argv = inspect_argv(reference)
    assert argv[argv.index("--") + 1] == reference
    for source in ("pull", "import"):
        line = fetch_command(DesiredImage(reference, source=source))[2]
        assert f"-- {shlex.quote(reference)}" in line or f"- {shlex.quote(reference)}" in line
        assert f"-- - {shlex.quote(reference)}" in line if source == "import" else True


def test_the_env_goes_to_an_env_file_never_to_the_docker_arguments() -> None:
    from engine.containers.spec import env_file_text

    desired = desired_container("web", spec(env={"TOKEN": "s3cret value", "B": "x=y"}), {}, "p")
    argv = ["docker", "create", *create_options(desired)]
    assert not any("s3cret" in argument for argument in argv)
    assert "--env" not in argv
    assert env_file_text(desired) == b"B=x=y\nTOKEN=s3cret value\n"


def test_the_spec_hash_covers_env_values_without_a_cheap_hash_of_them() -> None:
    from engine.containers.spec import env_digest

    first = desired_container("web", spec(env={"TOKEN": "a"}), {}, "p")
    second = desired_container("web", spec(env={"TOKEN": "b"}), {}, "p")
    assert first.spec_hash != second.spec_hash
    # the env enters through scrypt, salted with the container's name
    assert env_digest("web", first.env) != env_digest("api", first.env)
    assert "a" not in first.all_labels().values()


def test_a_notified_container_with_a_reload_signal_is_signalled_not_restarted() -> None:
    desired = desired_container("lb", spec(reload_signal="SIGUSR2"), {}, "p")
    change = decide(desired, current(desired.spec_hash), "sha256:a", is_notified=True)
    assert change.work == "reload" and change.reasons == ("notified: SIGUSR2",)
    assert decide(desired, current(desired.spec_hash), "sha256:a").work == "none"


def test_a_real_spec_change_still_recreates_a_container_with_a_reload_signal() -> None:
    desired = desired_container("lb", spec(reload_signal="SIGUSR2"), {}, "p")
    assert decide(desired, current("other"), "sha256:a", is_notified=True).work == "recreate"
    assert decide(desired, current(desired.spec_hash), "sha256:b",
                  is_notified=True).work == "recreate"
    stopped = current(desired.spec_hash, running=False)
    assert decide(desired, stopped, "sha256:a", is_notified=True).work == "start"


def test_the_reload_signal_is_not_part_of_the_spec_hash() -> None:
    # adding or changing the signal needs no new container
    assert desired_container("lb", spec(reload_signal="SIGHUP"), {}, "p").spec_hash == \
        desired_container("lb", spec(), {}, "p").spec_hash
