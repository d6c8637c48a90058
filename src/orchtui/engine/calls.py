"""The engine's outlets for calling the operator (the policy is services/notify.py):
a desktop notification through `notify-send` where it is installed (headless too), and
the count of agents waiting in orchtui's tmux status line (seen while taken over). The
dashboard has its own outlets: the bell, OSC 9 / 777 and the terminal's title."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
from collections.abc import Callable, Coroutine
from typing import Any

from orchtui.services.context import Context
from orchtui.services.notify import Call, News, Notifier
from orchtui.store.db import now

log = logging.getLogger("orchtui.engine")


class Caller:
    def __init__(self, ctx: Context, spawn: Callable[[Coroutine[Any, Any, None]], None]) -> None:
        self.ctx = ctx
        self.spawn = spawn
        self.notifier = Notifier(ctx.config.notify)
        self.timer: asyncio.TimerHandle | None = None
        self.shown_waiting: int | None = None
        self.send = shutil.which("notify-send") if ctx.config.notify.desktop else None

    def news(self, news: News) -> None:
        self.notifier.add(news, now())
        self._schedule()

    def _schedule(self) -> None:
        wait = self.notifier.next_due(now())
        if wait is None or self.timer is not None:
            return
        try:
            self.timer = asyncio.get_running_loop().call_later(wait, self._fire)
        except RuntimeError:  # no loop (a direct call): the next news brings it
            self.timer = None

    def _fire(self) -> None:
        self.timer = None
        call = self.notifier.due(now())
        if call is not None and self.send:
            self.spawn(asyncio.to_thread(self._desktop, call))
        self._schedule()

    def _desktop(self, call: Call) -> None:
        argv = [self.send or "notify-send", "--app-name=orchtui", call.title, call.body]
        try:  # an argv, never a shell: names in the text stay text
            subprocess.run(argv, capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("notify-send failed: %s", exc)

    def waiting(self, count: int) -> None:
        """The number of agents waiting now; the status line follows (in a worker)."""
        if count != self.shown_waiting:
            self.shown_waiting = count
            self.spawn(asyncio.to_thread(self.ctx.tmux.show_waiting, count))
