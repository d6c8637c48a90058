"""Another host's session's screen, for a viewer here: its worker publishes it through the
store while someone watches (engine/screens.py). Asking for it is watching it: a watch
lasts WATCH seconds and is renewed as the viewer asks again, so a closed dashboard stops
the publishing by itself within WATCH seconds."""

from __future__ import annotations

import json

from orchtui.screen.vt import VirtualScreen
from orchtui.services import waiting
from orchtui.services.context import Context
from orchtui.store.db import now
from orchtui.store.tables import AgentSession, SharedScreen

WATCH = 10.0  # seconds one ask keeps the worker publishing
RENEW_AFTER = 4.0  # an ask renews the watch once this much of it has passed
FIRST_WAIT = 10.0  # seconds `shown_now` waits for a first publication


def watch(ctx: Context, session_id: str, host: str) -> SharedScreen | None:
    """The screen of `host`'s session as that host last published it (None: not yet);
    keeps it publishing."""
    at = now()
    shared = ctx.screens.get(session_id)
    if shared is None or shared.watched_until - at < WATCH - RENEW_AFTER:
        ctx.screens.watch(session_id, host, at + WATCH)
        if shared is None or shared.watched_until < at:  # its worker had stopped: wake it
            ctx.wake_engine(f"screen of {session_id} watched", host=host)
    return shared


def shown_now(ctx: Context, row: AgentSession, timeout: float = FIRST_WAIT) -> SharedScreen | None:
    """The screen as it is now: the current publication when someone already watched it
    (its worker publishes every change), else the first one after this ask."""
    assert row.host is not None
    asked = now()
    before = watch(ctx, row.id, row.host)
    if before is not None and before.published_at is not None and before.watched_until > asked:
        return before

    def fresh() -> SharedScreen | None:
        shared = ctx.screens.get(row.id)
        return shared if shared and shared.published_at and shared.published_at >= asked else None

    return waiting.until(ctx, fresh, timeout)


def as_screen(shared: SharedScreen) -> VirtualScreen:
    """A terminal emulator showing what was published (colours included)."""
    vt = VirtualScreen(max(shared.cols, 1), max(shared.rows, 1))
    vt.seed(list(json.loads(shared.lines)), shared.cursor_x, shared.cursor_y)
    return vt


def as_text(shared: SharedScreen) -> str:
    return as_screen(shared).text()
