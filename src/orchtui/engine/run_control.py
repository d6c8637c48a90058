"""The operator's hand on a run: pause it (nothing new starts; agents finish their turn)
or cancel it (its agents stop, open prompts and approvals close; worktrees, branches and
everything recorded are kept). Shared by the CLI and the dashboard."""

from __future__ import annotations

from orchtui.domain import RunState
from orchtui.engine.context import Context
from orchtui.engine.events import emit
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
    service = SessionService(ctx)
    stopped = []
    for session in ctx.records.sessions(live_only=True):
        if session.run_id == run.id:
            service.stop(session.id, f"run {run.id} {why}")
            stopped.append(session.id)
    for approval in ctx.runs.approvals(pending_only=True):
        if approval.run_id == run.id:
            ctx.runs.decide(approval.id or 0, False, who, f"run {why}")
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
