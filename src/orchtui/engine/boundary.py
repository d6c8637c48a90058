"""The engine's one error boundary. Whatever goes wrong while handling one event (a file
that changed, a follow-up, a reconcile pass, a background task) is logged, and a bug is
also recorded as an `engine.error` event; the loop goes on. A store that stayed locked
past its wait (another process held the database) is not an error: the same work is
tried again, each time a little later (up to 5 s apart), until it goes through."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from orchtui.errors import OrchtuiError
from orchtui.services.context import Context
from orchtui.services.events import emit
from orchtui.store.db import is_busy

log = logging.getLogger("orchtui.engine")
MAX_DELAY = 5.0


class Boundary:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.tries: dict[str, int] = {}  # what -> busy retries in a row

    def run(self, what: str, work: Callable[[], object], again: Callable[[], object] | None = None) -> bool:
        """Do `work`; True when it went through. On a busy store `again` is called later."""
        try:
            work()
        except Exception as exc:
            self.failed(what, exc, again)
            return False
        self.tries.pop(what, None)
        return True

    def failed(self, what: str, exc: BaseException, again: Callable[[], object] | None = None) -> None:
        if is_busy(exc):
            tries = self.tries[what] = self.tries.get(what, 0) + 1
            delay = min(MAX_DELAY, 0.25 * 2 ** (tries - 1))
            log.warning("%s: the store is busy (try %d); again in %.2fs", what, tries, delay)
            if again is not None:
                try:
                    asyncio.get_running_loop().call_later(delay, again)
                except RuntimeError:  # no loop (a direct call): the next event brings it back
                    pass
            return
        if isinstance(exc, OrchtuiError):  # expected trouble (a window gone, a refusal): said once
            log.warning("%s: %s", what, exc)
            return
        log.error("%s failed", what, exc_info=exc)
        try:
            emit(self.ctx, "engine.error", f"{what}: {type(exc).__name__}: {exc}", severity="error")
        except Exception:  # the store itself is failing: the log has it
            log.exception("could not record the error of %s", what)
