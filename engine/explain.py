"""`play graph --explain`: where the replicas of every `replicas: N` container would go now,
and why, from the candidate hosts' facts (read over SSH; nothing changes).
"""

from __future__ import annotations

import dataclasses

from engine.playbook.model import ContainerSpec
from engine.run_options import Prepared, RunOptions
from engine.wiring import wire


def explain_placements(prepared: Prepared, options: RunOptions) -> list[str]:
    """Where the replicas of every `replicas: N` container would go now, and why: reads
    the candidate hosts' facts over SSH, changes nothing."""
    wiring = wire(prepared, dataclasses.replace(options, check=True))
    lines: list[str] = []
    try:
        for step in prepared.plan.steps.values():
            if not isinstance(step.body, ContainerSpec) or step.body.replicas is None:
                continue
            assert wiring.containers is not None  # the plan has this container step
            hosts = wiring.containers.replicas.candidates(step)
            if not hosts:
                continue
            play = prepared.plan.playbook.plays[step.play]
            placement = wiring.containers.replicas.placement(
                step, wiring.runner.scope(hosts[0], play))
            lines.append(f"container {step.name} [{play.name}]: {step.body.replicas} "
                         f"replicas over {', '.join(hosts)}")
            lines.extend(f"  {line}" for line in placement.explain())
    finally:
        wiring.close()
    return lines
