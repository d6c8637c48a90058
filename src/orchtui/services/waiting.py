"""Waiting for the store to reach a state, woken by its changes rather than a busy poll.

Every write to the SQLite store touches its WAL file in `ORCHTUI_HOME`; inotify
(runtime/watch.py) reports that, and only then is the condition read again. Without a change the
condition is still re-read once a second (a store on a server, a missed event), never
every few milliseconds. `orchtui wait`, `session send` and `session answer` wait here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from orchtui.domain import CommandKind, CommandState, RunState, SessionStatus
from orchtui.errors import OrchtuiError, UsageError
from orchtui.runtime.watch import changes_sync
from orchtui.services.context import Context

T = TypeVar("T")
RECHECK_MS = 1000
TIMEOUT_EXIT = 124  # like timeout(1): the state was not reached in time


class TimedOut(OrchtuiError):
    exit_code = TIMEOUT_EXIT


class Unreachable(OrchtuiError):
    """What was waited for can no longer happen (the session ended, the run failed)."""

    exit_code = 1


def until(ctx: Context, check: Callable[[], T | None], timeout: float) -> T | None:
    """`check()` once now and again after each change of the store; its first non-None
    value, or None when `timeout` seconds pass first."""
    value = check()
    if value is not None:
        return value
    end = time.monotonic() + timeout
    home = ctx.config.state.home
    names = {"orchtui.db", "orchtui.db-wal"}
    wait_ms = min(RECHECK_MS, max(1, int(timeout * 1000)))
    for _changes in changes_sync([home], wait_ms, lambda path: path.name in names):
        value = check()
        if value is not None or time.monotonic() >= end:
            return value
    return check()


SESSION_GOALS = ("idle", "waiting", "done", "exited")
RUN_GOALS = ("approval", "done", "paused")


@dataclass(frozen=True)
class Reached:
    what: str
    detail: str


def session_goal(ctx: Context, session_id: str, goal: str) -> Callable[[], Reached | None]:
    """The check for `orchtui wait SESSION --for GOAL`; raises Unreachable when the goal
    can no longer be reached."""
    if goal not in SESSION_GOALS:
        raise UsageError(f"--for {goal}: a session waits for one of {', '.join(SESSION_GOALS)}")
    ctx.records.session(session_id)  # NotFound for an unknown id

    def check() -> Reached | None:
        row = ctx.records.session(session_id)
        status = SessionStatus(row.status)
        if goal == "exited":
            return None if status.live else Reached(row.status, row.status_detail or "")
        if not status.live:
            raise Unreachable(f"session {session_id} is {row.status}: {row.status_detail or ''}".rstrip(": "))
        if goal in ("idle", "waiting"):
            return Reached(row.status, row.status_detail or "") if row.status == goal else None
        prompts = [c for c in ctx.ledger.rows(session_id) if c.kind == CommandKind.PROMPT]
        if any(not CommandState(c.state).final for c in prompts) or not status.accepts_input:
            return None
        last = prompts[-1] if prompts else None
        if last is not None and last.state != CommandState.DONE:
            raise Unreachable(f"the last prompt (ledger row {last.id}) {last.state}: {last.error or ''}")
        return Reached("done", f"agent {row.status}, every prompt done")

    return check


def run_goal(ctx: Context, run_id: str, goal: str) -> Callable[[], Reached | None]:
    if goal not in RUN_GOALS:
        raise UsageError(f"--for {goal}: a run waits for one of {', '.join(RUN_GOALS)}")
    ctx.runs.get(run_id)

    def check() -> Reached | None:
        run = ctx.runs.get(run_id)
        state = RunState(run.state)
        if goal == "approval":
            pending = [a for a in ctx.runs.approvals(pending_only=True) if a.run_id == run_id]
            if pending:
                return Reached("approval", f"approval {pending[0].id} for {pending[0].stage}")
        elif run.state == goal:
            return Reached(run.state, run.detail or "")
        if state.final:
            raise Unreachable(f"run {run_id} is {run.state}: {run.detail or ''}".rstrip(": "))
        return None

    return check


def wait_for(ctx: Context, check: Callable[[], Reached | None], timeout: float, what: str) -> Reached:
    reached = until(ctx, check, timeout)
    if reached is None:
        raise TimedOut(f"{what} not reached within {timeout:g}s")
    return reached
