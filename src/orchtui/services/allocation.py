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
    host: str | None = None  # the fleet's host its agents go to (None: this one)


@dataclass(frozen=True)
class Candidate:
    """A host a stage's agents may go to: its name in the fleet (None: this host, with no
    fleet), its own session limit, and which agent profiles it has installed."""

    name: str | None
    capacity: int
    installed: Callable[[str], bool]


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
    hosts: list[Candidate] | None = None,
) -> StagePlan:
    """Choose, per role, the first allowed profile that is installed and has room for
    the role's whole count (earlier roles of the stage count against the limits). In a
    fleet, `hosts` are tried in order for each profile (the run's own host first): a
    host's own capacity and `per_host` limit, the fleet's shared limits."""
    candidates = hosts or [Candidate(None, limits.max_sessions, installed)]
    taken = list(live)
    plan = StagePlan(stage.id, stage.automation)
    for role in stage.roles:
        passed_over: list[str] = []
        chosen: tuple[str, str | None] | None = None
        for profile in role.agents:
            for host in candidates:
                where = f"{profile} on {host.name}" if hosts else profile
                if not host.installed(profile):
                    passed_over.append(f"{where}: CLI not installed")
                    continue
                own = limits.model_copy(update={"max_sessions": host.capacity})
                want = Slot(project_id, profile, role.role, host.name)
                trial, blocked = list(taken), None
                for _ in range(role.count):
                    blocked = refusal(own, trial, want)
                    if blocked is not None:
                        break
                    trial.append(want)
                if blocked is not None:
                    passed_over.append(f"{where}: {blocked.message}")
                    continue
                chosen, taken = (profile, host.name), trial
                break
            if chosen is not None:
                break
        plan.assignments.append(
            Assignment(
                role.role,
                role.count,
                chosen[0] if chosen else None,
                _worktree(stage, role.role),
                "; ".join(passed_over),
                chosen[1] if chosen else None,
            )
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
