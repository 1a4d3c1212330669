"""What the lab reports: its error type and the status of its hosts.

These are the only lab types the CLI sees; everything else in `engine.lab`
is how the lab is made.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.output.table import table_lines


class LabError(Exception):
    """The lab could not be brought up, checked or torn down; the message is for the user."""


@dataclass(frozen=True)
class LabHost:
    name: str
    address: str
    sshd_alive: bool
    docker_alive: bool
    has_docker: bool = True

    @property
    def is_ok(self) -> bool:
        return self.sshd_alive and (self.docker_alive or not self.has_docker)


@dataclass(frozen=True)
class LabStatus:
    hosts: tuple[LabHost, ...]
    registry_alive: bool
    state_dir: str

    @property
    def is_up(self) -> bool:
        return bool(self.hosts)


def _word(is_alive: bool, is_wanted: bool = True) -> str:
    if not is_wanted:
        return "-"
    return "up" if is_alive else "DOWN"


def format_status(status: LabStatus) -> str:
    """Human text for `play lab status`: one line per host, then the registry."""
    if not status.is_up:
        return f"lab is down (state dir {status.state_dir})"
    lines = table_lines([("HOST", 8), ("ADDRESS", 14), ("SSHD", 5), ("DOCKER", 7), ("STATE", 0)],
                        [(host.name, host.address, _word(host.sshd_alive),
                          _word(host.docker_alive, host.has_docker),
                          "ok" if host.is_ok else "NOT OK") for host in status.hosts])
    lines.append(f"registry 10.250.0.1:5000 {_word(status.registry_alive)}")
    lines.append(f"state dir {status.state_dir}")
    return "\n".join(lines)
