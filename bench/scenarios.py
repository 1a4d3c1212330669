"""The scenarios of issue 8 as plain data: what runs, on how many hosts, in which phases.

Every tool turns a (workload, phase) into its own command line; the runner only
orders, resets and measures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

IMAGE_V1 = "bench/app:v1"
IMAGE_V2 = "bench/app:v2"
CONTAINER_PREFIX = "bench-c"  # every container the bench makes; the reset removes only these

Kind = Literal["commands", "containers", "startup"]


@dataclass(frozen=True)
class Workload:
    kind: Kind
    hosts: int
    count: int              # command tasks per host, or containers per host
    has_docker: bool = True

    @property
    def forks(self) -> int:
        return self.hosts

    def container_names(self) -> list[str]:
        return [f"{CONTAINER_PREFIX}{i}" for i in range(1, self.count + 1)]

    def commands(self) -> list[str]:
        return [f"echo task-{i}" for i in range(1, self.count + 1)]


@dataclass(frozen=True)
class Phase:
    name: str               # cold | noop | update | noop-2 | run | version | graph
    image: str = IMAGE_V1   # the image every container should run after this phase
    is_rolling: bool = False  # serial: 1, one host at a time
    creates: bool = False   # containers are made in this phase (cold)
    replaces: bool = False  # containers change image in this phase (update)


@dataclass(frozen=True)
class Scenario:
    key: str                # "a", "b", "c5", ...
    title: str
    workload: Workload
    phases: tuple[Phase, ...]


COLD = Phase("cold", creates=True)
NOOP = Phase("noop")
UPDATE = Phase("update", image=IMAGE_V2, is_rolling=True, replaces=True)
NOOP_2 = Phase("noop-2", image=IMAGE_V2)
RUN = Phase("run")


def _containers(key: str, containers: int) -> Scenario:
    phases = (COLD, NOOP, UPDATE, NOOP_2) if key == "a" else (COLD, NOOP)
    return Scenario(key, f"3 hosts x {containers} containers", Workload("containers", 3,
                    containers), phases)


def _many_hosts(hosts: int) -> Scenario:
    return Scenario(f"c{hosts}", f"{hosts} sshd-only hosts x 5 command tasks, forks {hosts}",
                    Workload("commands", hosts, 5, has_docker=False), (RUN,))


STARTUP = Scenario("e", "start-up", Workload("startup", 3, 0),
                   (Phase("version"), Phase("graph")))
COMMANDS = Scenario("d", "3 hosts x 20 command tasks", Workload("commands", 3, 20), (RUN,))


def all_scenarios(is_quick: bool) -> list[Scenario]:
    """In run order: the Docker lab's scenarios first, then the sshd-only sizes."""
    if is_quick:
        return [STARTUP, COMMANDS, _containers("a", 10), _many_hosts(5)]
    return [STARTUP, COMMANDS, _containers("a", 10), _containers("b", 30),
            _many_hosts(5), _many_hosts(50), _many_hosts(200), _many_hosts(1000)]
