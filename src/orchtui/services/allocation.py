"""Allocation plans: for each role of a stage, which agent profile, how many, which
worktree, and the roles that cannot be filled with the reason. Pure: it reads the
profiles, the limits and the live sessions, and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from orchtui.config import LimitsConfig
from orchtui.playbook import Playbook, Stage
from orchtui.services.capacity import Slot, refusal


@dataclass(frozen=True)
class Assignment:
    role: str
    count: int
    profile: str | None  # None: the role cannot be filled
    worktree: str  # "run" (the run's shared worktree), "own:<role>", or "stage:<id>"
    reason: str = ""  # why it cannot be filled, or what was passed over


@dataclass(frozen=True)
class StagePlan:
    stage: str
    automation: str
    assignments: list[Assignment] = field(default_factory=list)

    @property
    def fillable(self) -> bool:
        return all(a.profile is not None for a in self.assignments)


def _worktree(stage: Stage, role: str) -> str:
    if stage.worktree == "shared":
        return "run"
    if stage.worktree == "own":
        return f"own:{role}"
    return f"stage:{stage.worktree}"


def plan_stage(
    stage: Stage,
    project_id: int,
    limits: LimitsConfig,
    live: list[Slot],
    installed: Callable[[str], bool],
) -> StagePlan:
    """Choose, per role, the first allowed profile that is installed and has room for
    the role's whole count (earlier roles of the stage count against the limits)."""
    taken = list(live)
    plan = StagePlan(stage.id, stage.automation)
    for role in stage.roles:
        passed_over: list[str] = []
        chosen: str | None = None
        for profile in role.agents:
            if not installed(profile):
                passed_over.append(f"{profile}: CLI not installed")
                continue
            trial = list(taken)
            blocked = None
            for _ in range(role.count):
                blocked = refusal(limits, trial, Slot(project_id, profile, role.role))
                if blocked is not None:
                    break
                trial.append(Slot(project_id, profile, role.role))
            if blocked is not None:
                passed_over.append(f"{profile}: {blocked.message}")
                continue
            chosen, taken = profile, trial
            break
        plan.assignments.append(
            Assignment(role.role, role.count, chosen, _worktree(stage, role.role), "; ".join(passed_over))
        )
    return plan


def plan_playbook(
    playbook: Playbook,
    project_id: int,
    limits: LimitsConfig,
    live: list[Slot],
    installed: Callable[[str], bool],
) -> list[StagePlan]:
    """Each stage planned against today's live sessions (stages run one after another)."""
    return [plan_stage(stage, project_id, limits, live, installed) for stage in playbook.stages]
