"""The anchor tools' own virtual environments under bench/.venvs/ (ignored by git): the
project never depends on them. Versions are pinned so results compare across runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

VENVS = Path(__file__).resolve().parent / ".venvs"
ANSIBLE = "ansible==12.3.0"       # ansible-core 2.19 with community.docker
PYINFRA = "pyinfra==3.10.0"
# Lab hosts are machines of their own: Ansible runs their own Debian python3, with
# Debian's python3-docker for community.docker (engine/lab/rootfs.py installs both).
HOST_PYTHON = "/usr/bin/python3"


def venv_bin(name: str, program: str) -> Path:
    return VENVS / name / "bin" / program


def _ensure(name: str, python: str, requirement: str, probe: str) -> None:
    if venv_bin(name, probe).exists():
        return
    print(f"bench: installing {requirement} into {VENVS / name}", flush=True)
    subprocess.run([python, "-m", "venv", str(VENVS / name)], check=True)
    subprocess.run([str(venv_bin(name, "pip")), "install", "--quiet", requirement], check=True)


def ensure_anchors() -> None:
    _ensure("ansible", sys.executable, ANSIBLE, "ansible-playbook")
    _ensure("pyinfra", sys.executable, PYINFRA, "pyinfra")


def target_python() -> str:
    return HOST_PYTHON


if __name__ == "__main__":
    # `python3 -m bench.venvs`: install the anchors ahead of the bench (.ci/run does it
    # in the background while the tests run: pip from PyPI takes 2-3 minutes here)
    ensure_anchors()
