"""The engine as a worker of the fleet: registered at start, a heartbeat every
`[worker] heartbeat` seconds (written in a worker thread, so a slow database never holds
the loop), and a goodbye at a clean stop. A host whose heartbeats stop is `stale` to
every other host after `[worker] stale_after` seconds (`orchtui hosts`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from orchtui.engine.boundary import Boundary
from orchtui.services import fleet
from orchtui.services.context import Context
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
