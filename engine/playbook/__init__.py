"""The playbook stage: YAML plays, validated into frozen data (`Playbook`)."""

from engine.playbook.load import load_playbook
from engine.playbook.model import (
    BlockSpec,
    ContainerSpec,
    HealthCheck,
    PlacementSpec,
    Play,
    Playbook,
    ServiceSpec,
    Step,
    StepKind,
    TaskSpec,
    step_id,
)

__all__ = [
    "BlockSpec",
    "ContainerSpec",
    "HealthCheck",
    "PlacementSpec",
    "Play",
    "Playbook",
    "ServiceSpec",
    "Step",
    "StepKind",
    "TaskSpec",
    "load_playbook",
    "step_id",
]
