"""The words a run gives: the prompt each role receives (skill, template, feedback,
memory) and what an approval prompt shows a person (plan, previous gates, diff)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from orchtui.errors import UsageError
from orchtui.playbook import PLACEHOLDER, Playbook, Role, Stage
from orchtui.runtime.git import GitRepo
from orchtui.services import journal
from orchtui.services.allocation import plan_stage
from orchtui.services.capacity import Slot
from orchtui.services.context import Context
from orchtui.skills import catalog_for
from orchtui.store.tables import Run, Worktree

FEEDBACK_LIMIT = 4000


def skill_instructions(name: str, repo_root: Path | None) -> str:
    """A skill's instructions (its SKILL.md body) from the catalog of that repository."""
    skill = catalog_for(repo_root).get(name)
    if skill is None:
        raise UsageError(f"no skill {name!r} (orchtui skills list)")
    return skill.body


def stage_prompt(
    ctx: Context,
    run: Run,
    book: Playbook,
    stage: Stage,
    role: Role,
    feedback: str | None,
    wt: Worktree | None,
) -> str:
    artifacts = ctx.runs.artifacts(run.id)
    ids = [s.id for s in book.stages]
    previous = ids[ids.index(stage.id) - 1] if ids.index(stage.id) else None
    memory = "\n\n".join(v for k, v in artifacts.items() if k.startswith("memory:"))
    values = {
        "task": run.task,
        "stage": stage.id,
        "role": role.role,
        "attempt": str(run.attempt),
        "branch": wt.branch if wt else "",
        "base": wt.base if wt else "",
        "run": run.id,
        "previous": artifacts.get(f"stage:{previous}", "") if previous else "",
        "memory": journal.for_prompt(ctx, ctx.records.project(run.project_id), book.memory_budget, memory),
    }
    parts = [f"[orchtui run {run.id} · stage {stage.id} · role {role.role} · attempt {run.attempt}]"]
    if role.skill:
        parts.append(skill_instructions(role.skill, Path(ctx.records.project(run.project_id).path)))
    if role.prompt:
        parts.append(fill(role.prompt, values))
    parts.append(f"Task: {run.task}. Work in this directory, on branch {values['branch']}.")
    if feedback:
        parts.append("The stage's gates failed last time; fix this:\n" + feedback[-FEEDBACK_LIMIT:])
    return "\n\n".join(parts)


class _Failure(Protocol):
    @property
    def why(self) -> str: ...
    @property
    def evidence(self) -> str: ...


def gate_feedback(failures: Sequence[_Failure]) -> str:
    """What an agent is told of failed gates: each one's why and the end of its evidence."""
    return "\n".join(f"- {f.why}\n{f.evidence[-1500:]}" for f in failures)


def approval_shown(
    ctx: Context, run: Run, book: Playbook, stage: Stage, live: list[Slot], wt: Worktree | None
) -> dict[str, Any]:
    """What an approval prompt shows: the stage's allocation plan, the previous
    stage's gate evidence and the diff summary of the run's branch."""
    plan = plan_stage(
        stage,
        run.project_id,
        ctx.config.limits,
        live,
        lambda name: ctx.profiles.get(name).installed(),
    )
    index = [s.id for s in book.stages].index(stage.id)
    previous = book.stages[index - 1].id if index else None
    gates = (
        [{"gate": g.type, "state": g.state, "why": g.why} for g in ctx.runs.gate_results(run.id, previous)]
        if previous
        else []
    )
    return {
        "run": run.id,
        "task": run.task,
        "stage": stage.id,
        "automation": stage.automation,
        "merge": stage.merge,
        "plan": [
            {
                "role": a.role,
                "count": a.count,
                "profile": a.profile,
                "worktree": a.worktree,
                "note": a.reason,
            }
            for a in plan.assignments
        ],
        "previous_stage": previous,
        "previous_gates": gates,
        "diff": diff_summary(wt),
    }


def diff_summary(wt: Worktree | None) -> str:
    """`git diff --stat` of the run's branch against its base."""
    if wt is None or not Path(wt.path).is_dir():
        return "no changes yet"
    repo = GitRepo(Path(wt.path))
    return repo.repo.git.diff("--stat", f"{wt.base}...HEAD") or "no changes yet"


def fill(template: str, values: dict[str, str]) -> str:
    """`{name}` replaced by its value for the names given; every other brace (JSON, code,
    shell) left exactly as written."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)
