"""The garbage collector's full passes: timed, and made when the engine chooses.

At 500 sessions the engine holds a few hundred thousand objects, and a full pass over
them stops its loop meanwhile: a status waits. Left to itself, CPython makes a full pass
whenever the objects made since the last one reach a quarter of those that lived through
it, at any moment: 40-90 ms in the middle of a burst of 100 agents. `FullPasses` turns
those off and makes them when the loop has been quiet for QUIET seconds, and at the
latest FULL_EVERY seconds after the last one, busy or not (the engine asks on each
reconcile). Young objects are still collected as before. What lives through a pass is
frozen (`gc.freeze`: the next pass does not look at it again), so a pass covers what was
made since the last one, a few milliseconds; every WHOLE_EVERY seconds one pass looks at
everything (`gc.unfreeze` first), so cyclic garbage among the frozen is not kept for good.

Passes that take SLOW_MS or longer are noted as they end and logged by the loop
afterwards (`log_slow`): a collection can start anywhere, inside logging itself too, so
the callback only appends to a list. bench/sessions.py counts the lines."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger("orchtui.engine")
SLOW_MS = 20.0
QUIET = 1.0  # seconds without news: a full pass now holds up no status
FULL_EVERY = 60.0  # seconds between two full passes at most, quiet or not
WHOLE_EVERY = 600.0  # seconds between two passes over everything, the frozen too
SWEEP_EVERY = 100  # adoptions between two passes over everything (see FullPasses.adopted)
NEVER = 1 << 30  # the third threshold: full passes only when asked
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


class FullPasses:
    """Full passes at times the engine chooses (see the module's docstring)."""

    def __init__(self) -> None:
        self.last = self.last_whole = time.monotonic()
        self.taken = False
        self._threshold = gc.get_threshold()[2]
        self._adopted = 0  # sessions adopted since the last pass over everything

    def adopted(self, count: int) -> None:
        """Sessions were just adopted. What exists now (modules, the store, every session's
        screen and monitor) lives as long as its session at least: it is frozen, kept out
        of the collector, whose passes over 500 sessions held the loop 90-140 ms each. A
        session let go breaks its screen's cycles (drop), so what it held is still freed.
        Cyclic garbage frozen with the rest would stay, so every SWEEP_EVERY adoptions one
        pass looks at everything first: ~1 ms a session, and nothing kept for good."""
        self._adopted += count
        if self._adopted >= SWEEP_EVERY:
            self._adopted = 0
            gc.unfreeze()
            gc.collect()
        gc.freeze()

    def take_over(self) -> None:
        """From now on no full pass comes on its own (young objects are collected as before)."""
        young, middle, self._threshold = gc.get_threshold()
        gc.set_threshold(young, middle, NEVER)
        self.taken = True

    def give_back(self) -> None:
        """Full passes come on their own again."""
        if self.taken:
            young, middle, _never = gc.get_threshold()
            gc.set_threshold(young, middle, self._threshold)
            self.taken = False

    def maybe(self, quiet_for: float) -> bool:
        """A full pass when the loop has had no news for QUIET seconds or the last pass
        is FULL_EVERY seconds old; whether one was made."""
        now = time.monotonic()
        if not self.taken or (quiet_for < QUIET and now - self.last < FULL_EVERY):
            return False
        if now - self.last_whole >= WHOLE_EVERY:
            gc.unfreeze()
            self.last_whole = now
        gc.collect()
        gc.freeze()
        self.last = time.monotonic()
        return True
