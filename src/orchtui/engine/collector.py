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


def watch() -> Callable[[str, dict[str, int]], None]:
    """Time every full pass from now on (once per process); the callback is returned."""
    started: list[float] = []

    def timed(phase: str, info: dict[str, int]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            started.append(time.perf_counter())
        elif started:
            held = (time.perf_counter() - started.pop()) * 1000
            if held >= SLOW_MS:
                freed = info.get("collected", 0)
                log.info("collector: a full pass held the engine %.0f ms (%d freed)", held, freed)

    gc.callbacks.append(timed)
    return timed
