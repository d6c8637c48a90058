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
        super().__init__(cols, rows)
        for name in set(pyte.Stream.csi.values()):
            method = getattr(self, name, None)
            if method is not None and "private" not in inspect.signature(method).parameters:
                setattr(self, name, _public_only(method))


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
        """The visible rows, right-trimmed. Only rows pyte marked dirty are re-rendered."""
        dirty = self.screen.dirty
        if dirty:
            if len(self._rows) != self.screen.lines:
                self._rows = [""] * self.screen.lines
                dirty = set(range(self.screen.lines))
            for y in dirty:
                if 0 <= y < self.screen.lines:
                    self._rows[y] = self._render(y)
            self.screen.dirty.clear()
        return list(self._rows)

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
