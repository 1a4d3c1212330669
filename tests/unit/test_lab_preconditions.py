"""What `play lab` tells a user whose machine lacks a package it needs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from engine.lab import LabError
from engine.lab.preconditions import check_state_dir, missing_packages, missing_packages_message


def which_without(*absent: str) -> Callable[[str], str | None]:
    return lambda name: None if name in absent else f"/usr/bin/{name}"


def test_nothing_missing_means_no_packages() -> None:
    assert missing_packages(which_without()) == []


def test_each_missing_binary_names_its_debian_package() -> None:
    assert missing_packages(which_without("sshd")) == ["openssh-server"]
    assert missing_packages(which_without("dockerd")) == ["docker.io"]
    assert missing_packages(which_without("busybox")) == ["busybox-static"]
    assert missing_packages(which_without("docker-registry")) == ["docker-registry"]
    assert missing_packages(which_without("ip")) == ["iproute2"]
    assert missing_packages(which_without("nsenter")) == ["util-linux"]


def test_a_package_is_named_once_even_when_several_of_its_binaries_are_missing() -> None:
    assert missing_packages(which_without("docker", "dockerd", "nsenter", "unshare")) == [
        "docker.io",
        "util-linux",
    ]


def test_message_says_what_is_missing_and_the_command_that_installs_it() -> None:
    packages = missing_packages(which_without("sshd", "busybox"))
    assert missing_packages_message(packages) == (
        "missing Debian packages: openssh-server busybox-static; "
        "install them with: apt-get install -y openssh-server busybox-static"
    )


def test_state_dir_under_a_directory_others_can_write_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(LabError, match="PLAY_LAB_DIR"):
        check_state_dir(shared / "play-lab")
