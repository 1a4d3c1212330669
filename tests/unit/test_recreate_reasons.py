"""A recreate says which field changed: the `play.spec` label against the desired spec
(pure: facts in, reasons out). Env values are never shown, nor stored as written."""

from __future__ import annotations

import json
from typing import Any

from engine.containers.docker import create_options
from engine.containers.facts import CurrentContainer
from engine.containers.reconcile import decide, spec_changes
from engine.containers.spec import (
    LABEL_HASH,
    LABEL_SPEC,
    SPEC_VALUE_MAX,
    desired_container,
    spec_label,
)


def spec(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "image": "api:1", "pull": "missing", "command": ["httpd", "-f"], "entrypoint": None,
        "env": {"LOG_LEVEL": "info", "DB_PASSWORD": "hunter2-secret"},
        "ports": ["8080:8080"], "volumes": [], "network": "host", "restart": None,
        "labels": {"team": "core"},
        "healthcheck": {"cmd": "true", "interval": 1.0, "timeout": None, "retries": 3,
                        "start_period": None},
        "user": None, "workdir": None, "cpus": None, "memory": None, "stop_timeout": None,
        "state": "started", "keep_images": None}
    base.update(changes)
    return base


def made_from(**changes: Any) -> CurrentContainer:
    """The container a run made from `spec(**changes)`, with the labels it was given."""
    old = desired_container("api", spec(**changes), {}, "p")
    return CurrentContainer("id1", "api", old.all_labels(), "running", "healthy",
                            "sha256:old", "")


def test_an_image_and_an_env_change_are_named_field_by_field() -> None:
    desired = desired_container("api", spec(image="api:2", env={
        "LOG_LEVEL": "debug", "DB_PASSWORD": "hunter2-secret"}), {}, "p")
    change = decide(desired, made_from(), "sha256:new")
    assert change.work == "recreate"
    assert change.reasons == ("image: api:1 -> api:2", "env.LOG_LEVEL: changed",
                              "its image changed")
    assert "debug" not in change.describe() and "info" not in change.describe()


def test_ports_labels_and_health_show_old_and_new_values() -> None:
    desired = desired_container("api", spec(ports=["8081:8080"], labels={"team": "edge"},
                                            healthcheck={"cmd": "true", "interval": 1.0,
                                                         "retries": 9}), {}, "p")
    reasons = decide(desired, made_from(), "sha256:old").reasons
    assert reasons == ('ports: ["8080:8080"] -> ["8081:8080"]', "labels.team: core -> edge",
                       "healthcheck.retries: 3 -> 9")


def test_env_added_and_removed_are_named_without_values() -> None:
    desired = desired_container("api", spec(env={"LOG_LEVEL": "info", "NEW": "x1"}), {}, "p")
    assert spec_changes(desired, made_from().labels[LABEL_SPEC]) == [
        "env.DB_PASSWORD: removed", "env.NEW: added"]


def test_the_label_holds_no_env_value_only_salted_digests() -> None:
    desired = desired_container("api", spec(), {}, "p")
    label = spec_label(desired)
    assert "hunter2-secret" not in label and "info" not in label
    stored = json.loads(label)["env"]
    assert set(stored) == {"LOG_LEVEL", "DB_PASSWORD"}
    # salted with the container's name: the same value elsewhere has another digest
    other = desired_container("web", spec(), {}, "p")
    assert json.loads(spec_label(other))["env"]["LOG_LEVEL"] != stored["LOG_LEVEL"]
    assert not any("hunter2" in word for word in create_options(desired))


def test_a_long_value_is_kept_as_a_digest_and_reported_as_changed() -> None:
    long_command = ["sh", "-c", "x" * (SPEC_VALUE_MAX + 50)]
    old = made_from(command=long_command)
    assert "x" * SPEC_VALUE_MAX not in old.labels[LABEL_SPEC]
    desired = desired_container("api", spec(command=[*long_command, "more"]), {}, "p")
    assert decide(desired, old, "sha256:old").reasons == ("command: changed",)


def test_a_container_without_the_label_still_says_its_spec_changed() -> None:
    desired = desired_container("api", spec(image="api:2"), {}, "p")
    older = CurrentContainer("id1", "api", {LABEL_HASH: "from-an-older-play"}, "running",
                             "healthy", "sha256:old", "")
    assert decide(desired, older, "sha256:old").reasons == ("its spec changed",)
    assert spec_changes(desired, "{not json") == []


def test_an_unchanged_spec_needs_no_work_and_no_reasons() -> None:
    desired = desired_container("api", spec(), {}, "p")
    assert decide(desired, made_from(), "sha256:old").work == "none"
