"""What a session's pane shows now, for a viewer: one capture of the live pane, or its
output log replayed, as a terminal emulator and the log offset it shows up to."""

from __future__ import annotations

from pathlib import Path

from orchtui.domain import SessionStatus
from orchtui.errors import OrchtuiError
from orchtui.screen.vt import VirtualScreen
from orchtui.services.context import Context
from orchtui.tail import last_bytes

TAIL_BYTES = 256 * 1024  # how much of a log seeds the view of a session without a live pane
REPLAY_BYTES = 64 * 1024  # a live pane's log up to this size is replayed instead of captured


def seed_screen(ctx: Context, pane: str | None, status: str, session_id: str) -> tuple[VirtualScreen, int]:
    """A terminal emulator showing a session now, and the log offset it shows up to. A
    live pane whose whole output is still one small log (a new or restarted agent) is
    replayed from that log: no byte falls between a capture and the log's end. Otherwise
    one capture of the live pane, or the tail of its output log (and of the log's rotated
    part before it)."""
    state = ctx.config.state
    log = state.log_file(session_id)
    if pane and SessionStatus(status).live:
        try:
            cap = ctx.tmux.capture(pane)
            vt = VirtualScreen(cap.width, cap.height)
            if not state.rotated_log(session_id).exists():
                data = last_bytes([log], REPLAY_BYTES + 1)
                if len(data) <= REPLAY_BYTES:
                    vt.feed(data)
                    return vt, len(data)
            vt.seed(cap.lines, cap.cursor_x, cap.cursor_y)
            return vt, _size(log)
        except OrchtuiError:
            pass
    vt = VirtualScreen(ctx.config.tmux.width, ctx.config.tmux.height)
    offset = _size(log)
    vt.feed(last_bytes([state.rotated_log(session_id), log], TAIL_BYTES))
    return vt, offset


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
