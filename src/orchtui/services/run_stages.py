"""A run's stages as any process reads them: the stage rows (made for a run stored before
stages had rows), the ledger rows a stage sent, its failed gates, and the task labels
of the sessions that work its roles."""

from __future__ import annotations

from pathlib import Path

from orchtui.domain import RunState, StageState
from orchtui.playbook import Playbook, Role, Stage, load_playbook
from orchtui.services.context import Context
from orchtui.store.tables import Command, GateResult, Run, RunStage


def run_tag(run: Run, stage: str, attempt: int, role: str = "", index: int | None = None) -> str:
    tag = f"run:{run.id}:{stage}:{attempt}:"
    return tag if not role else f"{tag}{role}:{index}"


def role_label(run: Run, stage: Stage, role: Role, index: int) -> str:
    """The task name of the session working `role` (its `index`-th agent) in `stage`."""
    return f"{run.task[:32]}-{stage.id[:12]}-{role.role[:12]}{index}"


def role_labels(run: Run, stage: Stage) -> set[str]:
    count = (lambda role: stage.race.count) if stage.race else (lambda role: role.count)
    return {role_label(run, stage, role, i) for role in stage.roles for i in range(count(role))}


def session_stage(ctx: Context, run: Run, task: str) -> str | None:
    """The stage of `run` whose role a session (by its task label) works, if any."""
    book = load_playbook(Path(run.playbook_path), {p.name for p in ctx.profiles.all()})
    return next((s.id for s in book.stages if task in role_labels(run, s)), None)


def stage_rows(ctx: Context, run: Run, book: Playbook) -> list[RunStage]:
    """The run's stage rows. A run begun before stages had rows (one stage at a time, in
    file order) gets them here: the stages before its current one are done."""
    rows = ctx.runs.stages(run.id)
    if rows or run.stage is None or RunState(run.state).final:
        return rows
    ids = [s.id for s in book.stages]
    if run.stage not in ids:
        return rows
    for stage_id in ids[: ids.index(run.stage)]:
        ctx.runs.open_stage(run.id, stage_id, StageState.DONE)
    known = {str(s) for s in StageState}
    state = StageState(run.state) if str(run.state) in known else StageState.PENDING
    ctx.runs.open_stage(run.id, run.stage, state, max(run.attempt, 1))
    kept = ctx.runs.artifacts(run.id)  # what such a run kept as artifacts now lives on its stages
    for stage_id in ids[: ids.index(run.stage) + 1]:
        own, start = kept.get(f"worktree:{stage_id}"), kept.get(f"start:{stage_id}")
        ctx.runs.update_stage(
            run.id, stage_id, worktree_id=int(own) if own else None, start_commit=start or None
        )
    return ctx.runs.stages(run.id)


def stage_commands(ctx: Context, run: Run, stage: str, attempt: int) -> list[Command]:
    """The ledger rows a run sent for `stage` in `attempt`."""
    tag = run_tag(run, stage, attempt)
    rows: list[Command] = []
    for session in ctx.records.sessions():
        if session.run_id == run.id:
            rows += [c for c in ctx.ledger.rows(session.id) if c.actor.startswith(tag)]
    return rows


def failed_gates(ctx: Context, run: Run, stage: str, attempt: int) -> list[GateResult]:
    """The gates of `stage` that failed in `attempt` (none for attempt 0)."""
    return [g for g in ctx.runs.gate_results(run.id, stage) if g.attempt == attempt and g.state == "fail"]
