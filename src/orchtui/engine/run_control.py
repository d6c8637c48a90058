"""The operator's hand on a run: pause it (nothing new starts; agents finish their turn),
resume it, retry its stage (a new attempt, the failed gates given to the agents as
feedback), or cancel it (its agents stop, open prompts and approvals close; worktrees,
branches and everything recorded are kept). Shared by the CLI and the dashboard."""

from __future__ import annotations

import json

from orchtui.domain import ApprovalState, RunState
from orchtui.engine.context import Context
from orchtui.engine.events import emit
from orchtui.engine.memory import summarize
from orchtui.engine.runs import failed_gates, stage_commands
from orchtui.engine.sessions import SessionService
from orchtui.errors import UsageError
from orchtui.store.tables import Run


def pause(ctx: Context, run_id: str, who: str) -> Run:
    run = ctx.runs.get(run_id)
    if RunState(run.state).final or run.state == RunState.PAUSED.value:
        raise UsageError(f"run {run.id} is {run.state}")
    why = f"paused by {who} at stage {run.stage}"
    row = ctx.runs.update(run.id, state=RunState.PAUSED.value, detail=why)
    emit(ctx, "run.paused", f"run {run.id}: {why}", "notice", run=run.id, stage=run.stage)
    ctx.wake_engine(f"pause {run.id}")
    return row


def cancel(ctx: Context, run_id: str, who: str, reason: str | None = None) -> tuple[Run, list[str]]:
    """The run ends `cancelled`; returns it and the agent sessions that were stopped."""
    run = ctx.runs.get(run_id)
    if RunState(run.state).final:
        raise UsageError(f"run {run.id} is already {run.state}")
    why = f"cancelled by {who}" + (f": {reason}" if reason else "")
    ctx.runs.update(run.id, state=RunState.CANCELLED.value, detail=why)  # first: nothing new starts
    stopped = SessionService(ctx).stop_run(run.id, f"run {run.id} {why}")
    for approval in ctx.runs.approvals(pending_only=True):
        if approval.run_id == run.id:
            ctx.runs.decide(approval.id or 0, False, who, f"run {why}")
    summarize(ctx, ctx.runs.get(run.id), f"cancelled at stage {run.stage}: {why}")
    emit(
        ctx,
        "run.cancelled",
        f"run {run.id}: {why}; {len(stopped)} agent(s) stopped, worktrees and branches kept",
        "notice",
        run=run.id,
        stage=run.stage,
    )
    ctx.wake_engine(f"cancel {run.id}")
    return ctx.runs.get(run.id), stopped


def retry(ctx: Context, run_id: str, who: str) -> Run:
    """A paused or failed run starts its current stage again as a new attempt; the agents
    are told what the last attempt's failed gates said."""
    run = ctx.runs.get(run_id)
    if run.state not in (RunState.PAUSED.value, RunState.FAILED.value):
        raise UsageError(f"run {run.id} is {run.state}; only a paused or failed run can be retried")
    attempt = run.attempt + 1
    failed = failed_gates(ctx, run, run.stage or "", run.attempt)
    why = f"retried by {who}: stage {run.stage}, attempt {attempt}" + (
        f", with {len(failed)} failed gate(s) as feedback" if failed else ""
    )
    row = ctx.runs.update(run.id, state=RunState.PENDING.value, attempt=attempt, detail=why)
    emit(ctx, "run.retry", f"run {run.id}: {why}", "notice", run=run.id, stage=run.stage)
    ctx.wake_engine(f"retry {run.id}")
    return row


def resume(ctx: Context, run_id: str, who: str) -> tuple[Run, str]:
    """A paused run goes on, and says how: a stage whose gates failed runs its agents
    again with the failures as feedback (a new attempt); a stage that had started goes on
    (its gates are checked again once its agents are done); a stage whose start was
    rejected asks for approval again."""
    run = ctx.runs.get(run_id)
    if run.state != RunState.PAUSED.value:
        raise UsageError(f"run {run_id} is {run.state}, not paused")
    stage = run.stage or ""
    rows = stage_commands(ctx, run, stage)
    if failed_gates(ctx, run, stage, run.attempt) and all(
        r.state in ("done", "failed", "cancelled") for r in rows
    ):
        row = retry(ctx, run_id, who)
        return (
            row,
            f"its gates had failed: its agents run again with the failures as feedback "
            f"(attempt {row.attempt})",
        )
    started = bool(rows)
    for action in ("start", "done"):  # done: a manual stage the operator had not finished
        latest = ctx.runs.approval_for(run.id, stage, action)
        if latest is not None and latest.state == ApprovalState.REJECTED.value:
            ctx.runs.request_approval(run.id, stage, action, json.loads(latest.shown), again=True)
            started = False
    state = RunState.RUNNING if started else RunState.PENDING
    row = ctx.runs.update(run.id, state=state.value, detail=f"resumed by {who}")
    emit(ctx, "run.resumed", f"run {run.id}: resumed by {who} at stage {stage}", run=run.id, stage=stage)
    ctx.wake_engine(f"resume {run.id}")
    how = "its agents go on" if started else "it starts again (approval asked again where it was rejected)"
    return row, how
