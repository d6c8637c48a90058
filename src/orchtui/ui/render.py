"""Render a pyte screen (colours and attributes included) as Rich text."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rich.style import Style
from rich.text import Text
from wcwidth import wcwidth

from orchtui.screen.vt import VirtualScreen
from orchtui.tail import read_after

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


@dataclass
class _Kept:
    vt: VirtualScreen
    offset: int
    inode: int
    at: float


class RecentScreens:
    """The live screens of the last few sessions viewed. Going back to one within
    `max_age` seconds feeds it what its agent printed since (one read of its log) instead
    of a capture and a parse of the whole screen: flipping between two streaming agents
    stays cheap. A log rotated or grown by more than `max_delta` meanwhile is seeded afresh."""

    def __init__(self, keep: int = 6, max_age: float = 30.0, max_delta: int = 512 * 1024) -> None:
        self.keep, self.max_age, self.max_delta = keep, max_age, max_delta
        self._kept: OrderedDict[str, _Kept] = OrderedDict()

    def put(self, session_id: str, vt: VirtualScreen, log_inode: int | None, offset: int) -> None:
        """Keep `vt`, which shows the log with inode `log_inode` up to `offset`."""
        if log_inode is None:
            return
        self._kept[session_id] = _Kept(vt, offset, log_inode, time.monotonic())
        self._kept.move_to_end(session_id)
        while len(self._kept) > self.keep:
            self._kept.popitem(last=False)

    def take(self, session_id: str, log_file: Path) -> tuple[VirtualScreen, int] | None:
        kept = self._kept.pop(session_id, None)
        if kept is None or time.monotonic() - kept.at > self.max_age:
            return None
        try:
            stat = log_file.stat()
        except FileNotFoundError:
            return None
        if stat.st_ino != kept.inode or not kept.offset <= stat.st_size <= kept.offset + self.max_delta:
            return None
        data, offset = read_after(log_file, kept.offset)
        kept.vt.feed(data)
        return kept.vt, offset

    def clear(self) -> None:
        self._kept.clear()
