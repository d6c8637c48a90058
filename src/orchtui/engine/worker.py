"""The engine as a worker of the fleet: registered at start, a heartbeat every
`[worker] heartbeat` seconds (written in a worker thread, so a slow database never holds
the loop), and a goodbye at a clean stop. A host whose heartbeats stop is `stale` to
every other host after `[worker] stale_after` seconds (`orchtui hosts`); the live workers
then rescue its sessions and runs (services/fleet.py), and when it comes back it takes up
what still runs there (`reclaim`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from orchtui.domain import SessionStatus
from orchtui.engine.boundary import Boundary
from orchtui.runtime.tmux import PaneInfo
from orchtui.services import fleet
from orchtui.services.context import Context
from orchtui.services.events import emit
from orchtui.store.db import now

log = logging.getLogger("orchtui.engine")


async def beat_until(
    ctx: Context, boundary: Boundary, stop: asyncio.Event, sessions: Callable[[], int]
) -> None:
    started = now()
    every = ctx.config.worker.heartbeat
    while not stop.is_set():
        try:
            await asyncio.to_thread(fleet.beat, ctx, started, sessions())
        except Exception as exc:  # the next beat tries again; the fleet sees a gap, not a crash
            boundary.failed("heartbeat", exc)
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            pass


def say_goodbye(ctx: Context) -> None:
    try:
        fleet.goodbye(ctx)
    except Exception as exc:
        log.warning("could not record this worker's stop: %s", exc)


async def watch_fleet(ctx: Context, boundary: Boundary, stop: asyncio.Event) -> None:
    """Every twelfth of `[worker] stale_after` (5 s by default): rescue any host gone silent."""
    every = max(1.0, ctx.config.worker.stale_after / 12)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            pass
        if stop.is_set():
            return
        try:
            for done in await asyncio.to_thread(fleet.rescue, ctx):
                log.warning(
                    "host %s silent for %.0f s: %d session(s) lost, run(s) taken over: %s",
                    done.host,
                    done.silent_for,
                    len(done.sessions),
                    ", ".join(done.runs) or "none",
                )
        except Exception as exc:
            boundary.failed("watching the fleet", exc)


def reclaim(ctx: Context, panes: dict[str, PaneInfo]) -> list[str]:
    """Back after going silent: the sessions other workers marked lost for it, whose windows
    still run here, are followed again; those whose run went to another host meanwhile (its
    stage was retried there), and those killed from another host meanwhile, have their
    windows stopped instead, worktree kept, so that two agents never do one stage. The ids
    followed again."""
    me = ctx.config.host
    running = {p.orchtui_session: p for p in panes.values() if p.orchtui_session and not p.dead}
    back = []
    for row in ctx.records.sessions():
        if row.host != me or row.id not in running:
            continue
        if row.status == SessionStatus.KILLED:  # killed from another host while this one was away
            ctx.tmux.kill_window(running[row.id].window_id)
            emit(
                ctx,
                "agent.stopped",
                f"killed while host {me} was away: its window stopped",
                session_id=row.id,
            )
            continue
        silent = (row.status_detail or "").startswith(f"host {me} silent")
        if row.status != SessionStatus.LOST or not silent:
            continue
        run = ctx.runs.find(row.run_id) if row.run_id else None
        if run is not None and run.host not in (None, me):
            ctx.tmux.kill_window(running[row.id].window_id)
            ctx.records.update_session(row.id, status_detail=f"{row.status_detail}; window stopped on return")
            why = f"back, but run {run.id} went on on host {run.host}: its window stopped, worktree kept"
            emit(ctx, "agent.superseded", why, severity="warning", session_id=row.id)
            continue
        ctx.records.update_session(
            row.id,
            status=SessionStatus.IDLE,
            status_detail=f"followed again: host {me} is back",
            ended_at=None,
        )
        emit(ctx, "agent.back", f"host {me} is back and its window still runs", session_id=row.id)
        back.append(row.id)
    return back
