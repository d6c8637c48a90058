"""The garbage collector's full passes, timed. At 500 sessions the engine holds a few
hundred thousand objects, and a full pass over them stops its loop meanwhile: a status
waits. Passes that take SLOW_MS or longer are logged (bench/sessions.py counts them)."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger("orchtui.engine")
SLOW_MS = 20.0

Timed = Callable[[str, dict[str, int]], None]


def _log_slow(held_ms: float, freed: int) -> None:
    if held_ms >= SLOW_MS:
        log.info("collector: a full pass held the engine %.0f ms (%d freed)", held_ms, freed)


def watch(report: Callable[[float, int], None] = _log_slow) -> Timed:
    """From now on, `report(milliseconds, objects freed)` after every full pass (by
    default: the slow ones are logged). The callback is returned, to be removed."""
    started: list[float] = []

    def timed(phase: str, info: dict[str, int]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            started.append(time.perf_counter())
        elif started:
            report((time.perf_counter() - started.pop()) * 1000, info.get("collected", 0))

    gc.callbacks.append(timed)
    return timed
