"""Turn the samples into the results table (markdown) and check the issue's targets."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.measure import TIMED_OUT, Sample
from bench.scenarios import Scenario

Key = tuple[str, str, str]   # (scenario, phase, tool)


@dataclass(frozen=True)
class Target:
    """play's median (or peak RSS) at most `factor` x the anchor's; `factor` 1 = faster."""

    scenarios: tuple[str, ...]
    phases: tuple[str, ...]
    anchor: str
    factor: float
    is_memory: bool = False

    def describe(self) -> str:
        what = "peak RSS" if self.is_memory else "time"
        if self.factor == 1:
            return f"{what} < {self.anchor}"
        if self.factor < 1:
            return f"{1 / self.factor:g}x faster than {self.anchor}"
        return f"{what} <= {self.factor}x {self.anchor}"


_NOOPS = ("noop", "noop-2")
_SMALL = ("c5",)
_LARGE = ("c50", "c200", "c1000")
# The targets of the stack issue: against the stack floor (the same work on fabric,
# networkx and yaml); the paramiko floor and ControlMaster stay in the table as references.
TARGETS = (
    Target(("d",), ("run",), "stack floor", 1.15),
    Target(("d",), ("run",), "pyinfra", 1 / 3.5),
    Target(("d",), ("run",), "ansible", 1 / 25),
    Target(_SMALL, ("run",), "stack floor", 1.15),
    Target(_LARGE, ("run",), "stack floor", 1.0),
    Target(_SMALL + _LARGE, ("run",), "stack floor", 1.15, is_memory=True),
    Target(_SMALL + _LARGE, ("run",), "pyinfra", 1.0),
    Target(_SMALL + _LARGE, ("run",), "ansible", 1 / 10),
    Target(("a", "b"), _NOOPS, "stack floor", 1.25),
    Target(("a", "b"), _NOOPS, "ansible", 1 / 20),
    Target(("a", "b"), _NOOPS, "pyinfra", 1 / 3),
    Target(("a",), ("cold", "update"), "ansible", 1 / 3),
    Target(("a",), ("cold", "update"), "pyinfra", 1 / 1.5),
    Target(("e",), ("version",), "python -c pass", 1.5),
)
# The 30-container no-op may cost at most this much more control-node CPU per container
# step than the 10-container one: (b noop - a noop) / (90 - 30 steps), play's medians.
CPU_PER_STEP_TARGET = 0.3e-3


def _median(samples: Sequence[Sample]) -> float:
    return statistics.median(sample.wall for sample in samples)


def _peak_mb(samples: Sequence[Sample]) -> float:
    return max(sample.peak_rss_kb for sample in samples) / 1024


def _median_cpu(samples: Sequence[Sample]) -> float:
    return statistics.median(sample.cpu for sample in samples)


def table(scenarios: Sequence[Scenario], results: Mapping[Key, list[Sample]]) -> str:
    lines = ["| scenario | phase | tool | median s | min s | max s | peak RSS MB | CPU s | "
             "play / tool |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for scenario in scenarios:
        for phase in scenario.phases:
            rows = [(tool, samples) for (key, name, tool), samples in results.items()
                    if key == scenario.key and name == phase.name and samples]
            play = results.get((scenario.key, phase.name, "play"))
            for tool, samples in rows:
                walls = [sample.wall for sample in samples]
                ratio = f"{_median(play) / _median(samples):.2f}" if play else "-"
                failed = sum(1 for sample in samples if sample.exit_status not in (0, TIMED_OUT))
                stopped = sum(1 for sample in samples if sample.exit_status == TIMED_OUT)
                note = (f" ({failed} failed)" if failed else "") + (
                    f" (stopped at {max(walls):.0f} s, unfinished)" if stopped else "")
                lines.append(
                    f"| {scenario.key}: {scenario.title} | {phase.name} | {tool}{note} | "
                    f"{_median(samples):.3f} | {min(walls):.3f} | {max(walls):.3f} | "
                    f"{_peak_mb(samples):.0f} | {_median_cpu(samples):.3f} | {ratio} |")
    return "\n".join(lines) + "\n"


def check_targets(scenarios: Sequence[Scenario],
                  results: Mapping[Key, list[Sample]]) -> list[str]:
    """One line per (target, scenario, phase) that was measured: met or MISSED, with numbers."""
    lines = []
    for target in TARGETS:
        for scenario in target.scenarios:
            for phase in target.phases:
                play = results.get((scenario, phase, "play"))
                anchor = results.get((scenario, phase, target.anchor))
                if not play or not anchor:
                    continue
                # a failed run's time is no figure to compare; an anchor stopped at the cap
                # took at least that long, which still bounds a time ratio from above
                is_judged = all(sample.exit_status == 0 for sample in play) and all(
                    sample.exit_status == 0 or (sample.exit_status == TIMED_OUT
                                                and not target.is_memory)
                    for sample in anchor)
                if not is_judged:
                    lines.append(f"n/a    {scenario} {phase}: {target.describe()} (a run of "
                                 f"play or of {target.anchor} failed)")
                    continue
                if target.is_memory:
                    mine, theirs = _peak_mb(play), _peak_mb(anchor)
                else:
                    mine, theirs = _median(play), _median(anchor)
                ratio = mine / theirs
                is_met = ratio < 1 if target.factor == 1 else ratio <= target.factor
                lines.append(f"{'met   ' if is_met else 'MISSED'} {scenario} {phase}: "
                             f"{target.describe()} (play/anchor = {ratio:.2f})")
    return lines + _check_cpu_per_step(scenarios, results)


def _check_cpu_per_step(scenarios: Sequence[Scenario],
                        results: Mapping[Key, list[Sample]]) -> list[str]:
    """play's control-node CPU per container step that (b) adds over (a), both no-ops."""
    by_key = {scenario.key: scenario.workload for scenario in scenarios}
    small, large = results.get(("a", "noop", "play")), results.get(("b", "noop", "play"))
    if not small or not large or "a" not in by_key or "b" not in by_key:
        return []
    extra_steps = (by_key["b"].hosts * by_key["b"].count
                   - by_key["a"].hosts * by_key["a"].count)
    per_step = (_median_cpu(large) - _median_cpu(small)) / extra_steps
    is_met = per_step <= CPU_PER_STEP_TARGET
    return [f"{'met   ' if is_met else 'MISSED'} b noop: control-node CPU per container step "
            f"beyond a noop <= {CPU_PER_STEP_TARGET * 1e3:g} ms (play: {per_step * 1e3:.2f} ms "
            f"= ({_median_cpu(large):.3f} - {_median_cpu(small):.3f} s) / {extra_steps} steps)"]
