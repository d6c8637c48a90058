"""The garbage collector's full passes, timed. At 500 sessions the engine holds a few
hundred thousand objects, and a full pass over them stops its loop meanwhile: a status
waits. Passes that take SLOW_MS or longer are noted as they end and logged by the loop
afterwards (`log_slow`): a collection can start anywhere, inside logging itself too, so
the callback only appends to a list. bench/sessions.py counts the lines."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger("orchtui.engine")
SLOW_MS = 20.0
_slow: list[tuple[float, int]] = []  # (milliseconds, objects freed), not logged yet

Timed = Callable[[str, dict[str, int]], None]


def _note_slow(held_ms: float, freed: int) -> None:
    if held_ms >= SLOW_MS and len(_slow) < 1000:
        _slow.append((held_ms, freed))


def log_slow() -> None:
    """Log the slow passes noted since the last call (the engine's loop calls it)."""
    while _slow:
        held_ms, freed = _slow.pop(0)
        log.info("collector: a full pass held the engine %.0f ms (%d freed)", held_ms, freed)


def watch(report: Callable[[float, int], None] = _note_slow) -> Timed:
    """From now on, `report(milliseconds, objects freed)` after every full pass (by
    default: the slow ones are noted for log_slow). The callback is returned, to be removed."""
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
