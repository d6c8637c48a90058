"""What a status change moves, run after the statuses and in slices.

A change on screen costs the engine one status write; what it moves costs several more
(usage from the transcript, ledger rows, the next delivery). When 100 agents change at
once, the statuses of the whole batch are written first, and the rest runs in slices of
at most `SLICE` seconds with the event loop's I/O between them: output that arrives
meanwhile is not held up behind a hundred sessions' commits. A slice also waits while
output is waiting to be handled (`waiting`), for at most `PATIENCE` seconds since the
last slice: when 100 agents end their turns at once, every `idle` is written before
any of their follow-ups, and the follow-ups still go on under a steady stream.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from orchtui.engine.boundary import Boundary
from orchtui.engine.monitor import Monitor

log = logging.getLogger("orchtui.engine")
SLICE = 0.01
PATIENCE = 0.05


@dataclass
class _Work:
    monitor: Monitor
    collect: bool = False  # read the session's usage from its transcript
    progress: bool = False  # move its prompts along (only while the session is followed)


class FollowUps:
    def __init__(
        self,
        collect: Callable[[Monitor], object],
        progress: Callable[[Monitor], None],
        followed: Callable[[Monitor], bool],
        boundary: Boundary,
        waiting: Callable[[], bool] = lambda: False,
    ) -> None:
        self.boundary = boundary
        self._waiting = waiting
        self._last_slice = 0.0
        self._collect = collect
        self._progress = progress
        self._followed = followed
        self._work: dict[str, _Work] = {}
        self._held = 0
        self._scheduled = False

    def add(self, monitor: Monitor, collect: bool = False, progress: bool = True) -> None:
        work = self._work.get(monitor.session_id)
        if work is None or work.monitor is not monitor:
            work = self._work[monitor.session_id] = _Work(monitor)
        work.collect |= collect
        work.progress |= progress
        self._schedule()

    def hold(self) -> None:
        """A batch is being handled: nothing runs until `release`."""
        self._held += 1

    def release(self) -> None:
        self._held -= 1
        self._schedule()

    def _schedule(self) -> None:
        if self._held or self._scheduled or not self._work:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a direct call): at once
            self.drain(limit=None)
            return
        self._scheduled = True
        loop.call_soon(self._slice)

    def _slice(self) -> None:
        self._scheduled = False
        if self._held:
            return  # its release schedules the next slice
        if self._waiting() and time.monotonic() - self._last_slice < PATIENCE:
            return  # output first: its batch comes next on the loop, and its release calls again
        self._last_slice = time.monotonic()
        self.drain(limit=SLICE)
        self._schedule()

    def drain(self, limit: float | None) -> None:
        """Run queued work, oldest first, for at most `limit` seconds (None: all)."""
        end = None if limit is None else time.monotonic() + limit
        while self._work and (end is None or time.monotonic() < end):
            sid = next(iter(self._work))
            work = self._work.pop(sid)
            try:
                if work.collect:
                    self._collect(work.monitor)  # an ended session's usage still counts
                if work.progress and self._followed(work.monitor):
                    self._progress(work.monitor)
            except Exception as exc:  # one session's trouble must not stop the others
                self.boundary.failed(
                    f"after a change of {sid}",
                    exc,
                    partial(self.add, work.monitor, work.collect, work.progress),
                )
