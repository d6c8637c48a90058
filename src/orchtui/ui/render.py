"""Render a pyte screen (colours and attributes included) as Rich text."""

from __future__ import annotations

from functools import lru_cache

from rich.style import Style
from rich.text import Text
from wcwidth import wcwidth

from orchtui.domain import SessionStatus
from orchtui.engine.context import Context
from orchtui.errors import OrchtuiError
from orchtui.screen.vt import VirtualScreen
from orchtui.tail import last_bytes

TAIL_BYTES = 256 * 1024  # how much of a log seeds the view of a session without a live pane

_NAMES = {"brown": "yellow", "brightbrown": "bright_yellow"}
_HEX = frozenset("0123456789abcdefABCDEF")


def _color(value: str) -> str | None:
    if not value or value == "default":
        return None
    if value in _NAMES:
        return _NAMES[value]
    if value.startswith("bright"):
        return "bright_" + value[len("bright") :]
    if len(value) == 6 and set(value) <= _HEX:
        return "#" + value
    return value


@lru_cache(maxsize=1024)
def _style(fg: str, bg: str, bold: bool, italic: bool, underline: bool, reverse: bool) -> Style:
    return Style(
        color=_color(fg),
        bgcolor=_color(bg),
        bold=bold or None,
        italic=italic or None,
        underline=underline or None,
        reverse=reverse or None,
    )


def screen_lines(vt: VirtualScreen) -> list[Text]:
    """Every row of the screen, right-trimmed, as styled text. A row not drawn on since
    the last call (moved by a scroll, or untouched) is the same Text object as before."""
    screen = vt.screen
    plain = vt.lines()
    rows: list[Text] = []
    for y, trimmed in enumerate(plain):
        known = vt.styled[y]
        if isinstance(known, Text):
            rows.append(known)
            continue
        line = screen.buffer[y]
        text = Text(no_wrap=True, overflow="crop")
        run: list[str] = []
        run_style: Style | None = None
        used = x = 0
        while x < screen.columns and used < len(trimmed):
            char = line[x]
            style = _style(char.fg, char.bg, char.bold, char.italics, char.underscore, char.reverse)
            if style is not run_style and run:
                text.append("".join(run), run_style)
                run = []
            run_style = style
            run.append(char.data)
            used += len(char.data)
            x += 2 if char.data and wcwidth(char.data[0]) == 2 else 1
        if run:
            text.append("".join(run), run_style)
        vt.styled[y] = text
        rows.append(text)
    return rows


def seed_screen(ctx: Context, pane: str | None, status: str, session_id: str) -> VirtualScreen:
    """A terminal emulator showing a session now: one capture of its live pane, else the
    tail of its output log (and of the log's rotated part before it)."""
    if pane and SessionStatus(status).live:
        try:
            cap = ctx.tmux.capture(pane)
            vt = VirtualScreen(cap.width, cap.height)
            vt.seed(cap.lines, cap.cursor_x, cap.cursor_y)
            return vt
        except OrchtuiError:
            pass
    vt = VirtualScreen(ctx.config.tmux.width, ctx.config.tmux.height)
    state = ctx.config.state
    vt.feed(last_bytes([state.rotated_log(session_id), state.log_file(session_id)], TAIL_BYTES))
    return vt
