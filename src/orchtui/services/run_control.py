"""The operator's hand on a run: pause it (nothing new starts; agents finish their turn),
resume it, retry its stage (a new attempt, the failed gates given to the agents as
feedback), or cancel it (its agents stop, open prompts and approvals close; worktrees,
branches and everything recorded are kept). Shared by the CLI and the dashboard."""

from __future__ import annotations

import json
import os
from pathlib import Path

from orchtui.domain import ApprovalState, CommandState, RunState, StageState
from orchtui.errors import Refused, UsageError
from orchtui.playbook import Playbook, load_playbook
from orchtui.services.context import Context
from orchtui.services.events import emit
from orchtui.services.memory import summarize
from orchtui.services.run_stages import failed_gates, stage_commands, stage_rows
from orchtui.services.sessions import SessionService
from orchtui.store.tables import Approval, Run, RunStage


def pause(ctx: Context, run_id: str, who: str) -> Run:
    run = ctx.runs.get(run_id)
    if RunState(run.state).final or run.state == RunState.PAUSED:
        raise UsageError(f"run {run.id} is {run.state}")
    why = f"paused by {who} at stage {run.stage}"
    row = ctx.runs.update(run.id, state=RunState.PAUSED, detail=why)
    emit(ctx, "run.paused", f"run {run.id}: {why}", "notice", run=run.id, stage=run.stage)
    ctx.wake_engine(f"pause {run.id}")
    return row


def cancel(ctx: Context, run_id: str, who: str, reason: str | None = None) -> tuple[Run, list[str]]:
    """The run ends `cancelled`; returns it and the agent sessions that were stopped."""
    run = ctx.runs.get(run_id)
    if RunState(run.state).final:
        raise UsageError(f"run {run.id} is already {run.state}")
    why = f"cancelled by {who}" + (f": {reason}" if reason else "")
    ctx.runs.update(run.id, state=RunState.CANCELLED, detail=why)  # first: nothing new starts
    stopped = SessionService(ctx).stop_run(run.id, f"run {run.id} {why}")
    for approval in ctx.runs.approvals(pending_only=True):
        if approval.run_id == run.id:
            ctx.runs.answer(approval.id or 0, False, who, f"run {why}")
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


def _book(ctx: Context, run: Run) -> Playbook:
    return load_playbook(Path(run.playbook_path), {p.name for p in ctx.profiles.all()})


def _stopped(ctx: Context, run: Run) -> list[RunStage]:
    """The stages a paused or failed run acts on: those that stopped it, else (paused by
    a person) every stage under way."""
    rows = ctx.runs.stages(run.id) or stage_rows(ctx, run, _book(ctx, run))
    rows = [r for r in rows if not StageState(r.state).finished]
    return [r for r in rows if r.state == StageState.PAUSED] or rows


def _new_attempt(ctx: Context, run: Run, stage: RunStage, why: str) -> int:
    """The stage starts again as its next attempt (its agents get the last attempt's failed
    gates as feedback); how many gates failed."""
    failed = len(failed_gates(ctx, run, stage.stage, stage.attempt))
    ctx.runs.update_stage(
        run.id, stage.stage, state=StageState.PENDING, attempt=stage.attempt + 1, detail=why
    )
    return failed


def retry(ctx: Context, run_id: str, who: str) -> Run:
    """A paused or failed run starts the stage(s) that stopped it again as a new attempt;
    the agents are told what the last attempt's failed gates said."""
    run = ctx.runs.get(run_id)
    if run.state not in (RunState.PAUSED, RunState.FAILED):
        raise UsageError(f"run {run.id} is {run.state}; only a paused or failed run can be retried")
    said = []
    for stopped in _stopped(ctx, run):
        failed = _new_attempt(ctx, run, stopped, f"retried by {who}")
        said.append(
            f"stage {stopped.stage}, attempt {stopped.attempt + 1}"
            + (f", with {failed} failed gate(s) as feedback" if failed else "")
        )
    why = f"retried by {who}: {'; '.join(said)}"
    ctx.runs.update(run.id, state=RunState.PENDING)
    row = ctx.runs.roll_up(run.id, why)
    emit(ctx, "run.retry", f"run {run.id}: {why}", "notice", run=run.id, stage=row.stage)
    ctx.wake_engine(f"retry {run.id}")
    return row


def resume(ctx: Context, run_id: str, who: str) -> tuple[Run, str]:
    """A paused run goes on, and says how, for each stage that stopped it: a stage whose
    gates failed runs its agents again with the failures as feedback (a new attempt); a
    stage that had started goes on (its gates are checked again once its agents are done);
    a stage whose start was rejected asks for approval again."""
    run = ctx.runs.get(run_id)
    if run.state != RunState.PAUSED:
        raise UsageError(f"run {run_id} is {run.state}, not paused")
    hows = []
    for stage_row in _stopped(ctx, run):
        stage, attempt = stage_row.stage, stage_row.attempt
        rows = stage_commands(ctx, run, stage, attempt)
        if failed_gates(ctx, run, stage, attempt) and all(CommandState(r.state).final for r in rows):
            _new_attempt(ctx, run, stage_row, f"resumed by {who}")
            hows.append(
                f"{stage}: its gates had failed: its agents run again with the failures as feedback "
                f"(attempt {attempt + 1})"
            )
            continue
        started = bool(rows)
        for action in ("start", "done"):  # done: a manual stage the operator had not finished
            latest = ctx.runs.approval_for(run.id, stage, action)
            if latest is not None and latest.state == ApprovalState.REJECTED:
                ctx.runs.request_approval(run.id, stage, action, json.loads(latest.shown), again=True)
                started = False
        state = StageState.RUNNING if started else StageState.PENDING
        ctx.runs.update_stage(run.id, stage, state=state, detail=f"resumed by {who}")
        hows.append(
            f"{stage}: its agents go on"
            if started
            else f"{stage}: it starts again (approval asked again where it was rejected)"
        )
    ctx.runs.update(run.id, state=RunState.PENDING)
    row = ctx.runs.roll_up(run.id, f"resumed by {who}")
    emit(
        ctx,
        "run.resumed",
        f"run {run.id}: resumed by {who} at stage {row.stage}",
        run=run.id,
        stage=row.stage,
    )
    ctx.wake_engine(f"resume {run.id}")
    return row, "; ".join(hows) or "it goes on"


def answer(ctx: Context, approval_id: int, approve: bool, who: str, reason: str | None = None) -> Approval:
    """A person's answer to an approval, recorded with who and when; the engine acts on it.
    Refused inside an agent's session (its shell, or an MCP server it started): an agent
    may ask for an approval, never give one."""
    inside = os.environ.get("ORCHTUI_SESSION_ID")
    if inside:
        raise Refused(f"approvals are answered by a person, not from inside agent session {inside}")
    row = ctx.runs.answer(approval_id, approve, who, reason)
    about = f"run {row.run_id}" if row.run_id else f"session {row.session_id}"
    emit(
        ctx,
        "approval.answered",
        f"approval #{row.id} {row.state} by {who}: {about} {row.stage}" + (f" ({reason})" if reason else ""),
        "notice",
        session_id=row.session_id,
        run=row.run_id,
        approval=row.id,
    )
    ctx.wake_engine(f"approval {approval_id}")
    return row


def memory(ctx: Context, run_id: str) -> dict[str, str]:
    """What the run's stages recorded in project memory (plans, reviews, summaries), by name."""
    return {
        name.removeprefix("memory:"): body
        for name, body in ctx.runs.artifacts(run_id).items()
        if name.startswith("memory:")
    }
