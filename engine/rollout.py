"""The rollout policy of a run: which later nodes a failure stops (serial batches with
max_fail_percentage, any_errors_fatal), and the exit status the spec gives a run's recap.
`run.execute` asks `Rollout.veto` before the scheduler starts each node.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from engine.errors import (
    EXIT_DRIFT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STEP_FAILED,
    EXIT_UNREACHABLE,
)
from engine.results import Recap, StepResult

if TYPE_CHECKING:
    from engine.execute import Node
    from engine.plan import Plan


def exit_status(recap: Recap, interrupted: bool, check: bool) -> int:
    """130 interrupted; 2 a step failed; 3 a host unreachable; 6 drift under --check."""
    if interrupted:
        return EXIT_INTERRUPTED
    if recap.total("failed"):
        return EXIT_STEP_FAILED
    if recap.total("unreachable"):
        return EXIT_UNREACHABLE
    if check and recap.total("changed"):
        return EXIT_DRIFT
    return EXIT_OK


class Rollout:
    """Stops a play's later batches once too many hosts failed (max_fail_percentage; by
    default only when a whole batch failed, as in Ansible) and a whole play on the
    first failure when it says any_errors_fatal. Constant time per node: the scheduler
    asks for each of them."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.failed: dict[int, set[str]] = {}
        # play -> host -> its batch's number; play -> the failed hosts of each batch
        self.batch_of = {placement.play: {host: number
                                          for number, batch in enumerate(placement.batches)
                                          for host in batch}
                         for placement in plan.placements}
        self.failed_in_batch: dict[tuple[int, int], set[str]] = {}
        # play -> (first batch that failed too much, why): later batches are skipped
        self.stopped: dict[int, tuple[int, str]] = {}
        self.lock = threading.Lock()

    def record(self, result: StepResult) -> None:
        if (result.status == "failed" and not result.is_ignored and not result.is_rescued) or \
                result.status == "unreachable":
            play_index = self.plan.steps[result.step].play
            number = self.batch_of[play_index].get(result.host)
            with self.lock:
                self.failed.setdefault(play_index, set()).add(result.host)
                if number is not None:
                    self._judge_batch(play_index, number, result.host)

    def _judge_batch(self, play_index: int, number: int, host: str) -> None:
        failed = self.failed_in_batch.setdefault((play_index, number), set())
        failed.add(host)
        batch = self.plan.placements[play_index].batches[number]
        limit = self.plan.playbook.plays[play_index].max_fail_percentage
        too_many = len(failed) == len(batch) if limit is None else (
            len(failed) * 100 / len(batch) > float(limit))
        if too_many and (play_index not in self.stopped or number < self.stopped[play_index][0]):
            self.stopped[play_index] = (number, (
                f"skipped: rollout stopped, {len(failed)} of {len(batch)} hosts failed in an "
                f"earlier batch (max_fail_percentage: {limit})"))

    def veto(self, node: Node) -> str | None:
        play_index = self.plan.steps[node[1]].play
        play = self.plan.playbook.plays[play_index]
        with self.lock:
            failed = self.failed.get(play_index)
            if play.any_errors_fatal and failed:
                return f"skipped: any_errors_fatal and {', '.join(sorted(failed))} failed"
            stopped = self.stopped.get(play_index)
        number = self.batch_of[play_index].get(node[0])
        if stopped is not None and number is not None and number > stopped[0]:
            return stopped[1]
        return None
