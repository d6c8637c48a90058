"""Publishing this host's watched screens for viewers on other hosts (services/screen_share.py):
while any of its sessions is watched, each one's screen is captured and stored when it
changed, at most `[worker] screen_rate` times a second; with no watch, nothing runs."""

from __future__ import annotations

import asyncio
import logging

from orchtui.engine.port import Loop
from orchtui.errors import OrchtuiError
from orchtui.redact import redact
from orchtui.screen.vt import strip_ansi

log = logging.getLogger("orchtui.engine")


def without_secrets(lines: list[str]) -> list[str]:
    """A line that shows a secret is stored redacted, without its colours (a colour
    sequence could split the secret past the detector)."""
    out = []
    for line in lines:
        plain = strip_ansi(line.encode("utf-8", "replace"))
        hidden = redact(plain)
        out.append(line if hidden == plain else hidden)
    return out


class ScreenPublisher:
    def __init__(self, engine: Loop) -> None:
        self.engine = engine
        self.ctx = engine.ctx
        self.task: asyncio.Task[None] | None = None
        self.sent: dict[str, int] = {}  # per session, the screen generation last published

    def look(self) -> None:
        """After a wake-up: publish while someone watches (one task at a time)."""
        if self.task is not None and not self.task.done():
            return
        self.task = asyncio.get_running_loop().create_task(self._while_watched())
        self.engine.tasks.add(self.task)
        self.task.add_done_callback(self.engine.tasks.discard)

    async def _while_watched(self) -> None:
        interval = 1.0 / self.ctx.config.worker.screen_rate
        try:
            while True:
                watched = await asyncio.to_thread(self.ctx.screens.watched, self.ctx.config.host)
                monitors = self.engine.monitors
                mine = [sid for sid in watched if sid in monitors]
                if not mine:
                    return
                for sid in mine:
                    monitor = monitors[sid]
                    if self.sent.get(sid) != monitor.generation:
                        self.sent[sid] = monitor.generation
                        await asyncio.to_thread(self._publish, sid, monitor.pane_id)
                for sid in set(self.sent) - set(mine):  # no longer watched: first frame again next time
                    del self.sent[sid]
                await asyncio.sleep(interval)
        except Exception as exc:  # a busy or unreachable store: the next wake-up starts again
            self.engine.boundary.failed("publishing watched screens", exc)
        finally:
            self.sent.clear()

    def _publish(self, session_id: str, pane_id: str) -> None:
        try:
            cap = self.ctx.tmux.capture(pane_id)
        except OrchtuiError as exc:  # the pane went meanwhile
            log.debug("screen of %s not captured: %s", session_id, exc)
            return
        self.ctx.screens.publish(
            session_id, without_secrets(cap.lines), cap.width, cap.height, (cap.cursor_x, cap.cursor_y)
        )
