"""A terminal-accurate view of one agent's screen.

A pyte screen is fed the bytes tmux's pipe-pane writes to the session's log, so the
engine knows what the agent shows without asking tmux (no capture-pane per change).
When orchtui (re)attaches to a running window it seeds the screen once from a
single capture of that pane, then follows the log.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable
from typing import Any

import pyte
from pyte.screens import Margins
from wcwidth import wcwidth

log = logging.getLogger("orchtui.screen")

_ANSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def strip_ansi(data: bytes) -> str:
    text = _ANSI.sub(b"", data).decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


class _Screen(pyte.Screen):
    """pyte's screen, tolerant of the private CSI sequences modern TUIs send (Gemini CLI's
    `CSI ? … m`, keyboard-protocol queries): pyte hands them `private=True`, which most of
    its handlers do not take; they change nothing visible and are dropped."""

    def __init__(self, cols: int, rows: int) -> None:
        self.scrolls: list[tuple[int, int]] = []  # (top, bottom) of each scroll since last rendered
        super().__init__(cols, rows)
        for name in set(pyte.Stream.csi.values()):
            method = getattr(self, name, None)
            if method is not None and "private" not in inspect.signature(method).parameters:
                setattr(self, name, _public_only(method))

    def index(self) -> None:
        """A line feed on the bottom row scrolls: the rows move up unchanged. pyte marks
        every row dirty then; here only the new bottom row is (with the rows that were
        dirty already, moved with their content), and the scroll is noted so the rendered
        rows move too. Streaming output then costs one row per line, not the screen."""
        top, bottom = self.margins or Margins(0, self.lines - 1)
        if self.cursor.y != bottom:
            super().index()
            return
        dirty = self.dirty
        self.dirty = set()
        super().index()
        self.dirty = {y if y < top or y > bottom else y - 1 for y in dirty if y != top} | {bottom}
        self.scrolls.append((top, bottom))


def _public_only(method: Callable[..., Any]) -> Callable[..., Any]:
    def handler(*args: Any, private: bool = False, **kwargs: Any) -> Any:
        return None if private else method(*args, **kwargs)

    return handler


class VirtualScreen:
    def __init__(self, cols: int, rows: int) -> None:
        self.screen = _Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self._rows: list[str] = [""] * rows

    def _render(self, y: int) -> str:
        line = self.screen.buffer[y]
        plain = "".join([cell.data for cell in map(line.__getitem__, range(self.screen.columns))])
        if plain.isascii():
            return plain.rstrip()
        chars = []
        wide = False
        for x in range(self.screen.columns):
            if wide:  # the cell after a double-width character is its right half
                wide = False
                continue
            char = line[x].data
            wide = bool(char) and wcwidth(char[0]) == 2
            chars.append(char)
        return "".join(chars).rstrip()

    @property
    def size(self) -> tuple[int, int]:
        return self.screen.columns, self.screen.lines

    def feed(self, data: bytes) -> None:
        """Bytes an agent printed. No byte sequence may stop orchtui from following the
        agent: should the emulator still fail on one, its parser starts afresh."""
        try:
            self.stream.feed(data)
        except Exception as exc:  # pyte's parser is a generator: after a raise it is spent
            log.warning("terminal emulator: %s: %s; parser reset", type(exc).__name__, exc)
            self.stream = pyte.ByteStream(self.screen)

    def lines(self) -> list[str]:
        """The visible rows, right-trimmed. Rows move with the screen's scrolls; only rows
        drawn on since the last call are rendered again."""
        screen = self.screen
        scrolls, screen.scrolls = screen.scrolls, []
        dirty = set(screen.dirty)
        screen.dirty.clear()
        rows = self._rows
        if len(rows) != screen.lines:
            rows = self._rows = [""] * screen.lines
            dirty = set(range(screen.lines))
        else:
            for top, bottom in scrolls:
                rows[top:bottom] = rows[top + 1 : bottom + 1]
                rows[bottom] = ""
        for y in dirty:
            if 0 <= y < screen.lines:
                rows[y] = self._render(y)
        return list(rows)

    def text(self) -> str:
        return "\n".join(self.lines()).rstrip("\n")

    def resize(self, cols: int, rows: int) -> None:
        self.screen.resize(rows, cols)

    def seed(self, captured_lines: list[str], cursor_x: int, cursor_y: int) -> None:
        """Replace the screen with a capture (`capture-pane -p -e`) and its cursor."""
        self.screen.reset()
        body = "\r\n".join(captured_lines[: self.screen.lines])
        self.feed(b"\x1b[2J\x1b[H" + body.encode("utf-8", errors="replace"))
        self.feed(f"\x1b[0m\x1b[{cursor_y + 1};{cursor_x + 1}H".encode())
