"""The virtual screen against pyte's own rendering: rows that scroll are moved, not
redrawn, and must still read exactly what a full redraw gives."""

from __future__ import annotations

import random

import pyte
from wcwidth import wcwidth

from orchtui.screen.vt import VirtualScreen

PIECES = [
    "plain text ",
    "日本語の行 ",  # double-width characters
    "⠋ Working… (esc to interrupt)",
    "\n",
    "\r\n",
    "\r",
    "\x1b[2K",  # erase the line
    "\x1b[1A",  # up one row
    "\x1b[3;1H",  # cursor to row 3
    "\x1b[99;1H",  # cursor to the bottom row
    "\x1b[J",  # erase below
    "\x1bM",  # reverse index (scrolls down at the top)
    "\x1b[2;7r",  # a scroll region (rows 2-7)
    "\x1b[r",  # the whole screen again
    "\x1b[2L",  # insert two lines
    "\x1b[1M",  # delete a line
    "\x1b[31mred\x1b[0m",
]


class Reference:
    """Plain pyte, every row rendered from its cells on each read (a double-width
    character's right half is skipped, as a terminal shows it)."""

    def __init__(self, cols: int, rows: int) -> None:
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)

    def rows(self) -> list[str]:
        out = []
        for y in range(self.screen.lines):
            line, chars, x = self.screen.buffer[y], [], 0
            while x < self.screen.columns:
                data = line[x].data
                chars.append(data)
                x += 2 if data and wcwidth(data[0]) == 2 else 1
            out.append("".join(chars).rstrip())
        return out


def test_rows_read_as_a_full_redraw_through_scrolls_regions_and_resizes() -> None:
    rng = random.Random(7)
    vt, ref = VirtualScreen(30, 8), Reference(30, 8)
    for step in range(3000):
        chunk = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 12))).encode()
        vt.feed(chunk)
        ref.stream.feed(chunk)
        if step % 500 == 499:
            cols, rows = rng.randint(20, 40), rng.randint(5, 10)
            vt.resize(cols, rows)
            ref.screen.resize(rows, cols)
        if rng.random() < 0.5:  # read after some chunks only: scrolls pile up in between
            assert vt.lines() == ref.rows(), f"step {step}"
    assert vt.lines() == ref.rows()


def test_streaming_lines_scroll_and_the_last_rows_are_current() -> None:
    vt = VirtualScreen(40, 5)
    for i in range(1, 101):
        vt.feed(f"\r\x1b[2Kline {i}\n\r\x1b[2K⠋ Working…".encode())
    assert vt.lines() == ["line 97", "line 98", "line 99", "line 100", "⠋ Working…"]
