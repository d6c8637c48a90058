"""The virtual screen against pyte's own rendering: rows that scroll are moved, not
redrawn, and must still read exactly what a full redraw gives."""

from __future__ import annotations

import gc
import random
import weakref

import pyte
from wcwidth import wcwidth

from orchtui.screen.vt import VirtualScreen, _Screen

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


class _PyteErase(_Screen):
    """The same screen with pyte's own erase handlers, as the reference."""

    erase_in_line = pyte.Screen.erase_in_line
    erase_in_display = pyte.Screen.erase_in_display


ERASE_PIECES = [
    "abc", "héllo", "wide中文", "x" * 30, "\r", "\n", "\x1b[2K", "\x1b[1K", "\x1b[K", "\x1b[0K", "\x1b[?1K",
    "\x1b[2J", "\x1b[J", "\x1b[1J", "\x1b[3J", "\x1b[?2J", "\x1b[31m", "\x1b[41m", "\x1b[7m", "\x1b[0m",
    "\x1b[5G", "\x1b[10C", "\x1b[3;10H", "\x1b[1P", "\x1b[2@",
]  # fmt: skip


def test_sparse_erases_show_the_same_text_as_pyte() -> None:
    """orchtui's erases drop plain blank cells instead of writing 200 of them per
    `ESC [ 2 K`: on 2,000 random streams every cell reads the same text as pyte's."""
    rng = random.Random(7)
    for _ in range(2000):
        ours, reference = _Screen(40, 8), _PyteErase(40, 8)
        data = "".join(rng.choice(ERASE_PIECES) for _ in range(60))
        pyte.Stream(ours).feed(data)
        pyte.Stream(reference).feed(data)
        for y in range(8):
            assert [ours.buffer[y][x].data for x in range(40)] == [
                reference.buffer[y][x].data for x in range(40)
            ], repr(data)


def test_a_coloured_clear_colours_every_cell() -> None:
    screen = _Screen(10, 3)
    pyte.Stream(screen).feed("ab\x1b[41m\x1b[2J")
    assert {screen.buffer[y][x].bg for y in range(3) for x in range(10)} == {"red"}
    pyte.Stream(screen).feed("\x1b[0m\x1b[2J")
    assert all(not screen.buffer[y] for y in range(3))  # plain blanks are not stored


def test_drawn_cells_are_shared_and_attributes_still_apply() -> None:
    """Cells are made once per (attributes, character) and shared between screens; a
    colour change still reaches the cells drawn after it."""
    one, two = VirtualScreen(20, 2), VirtualScreen(20, 2)
    one.feed(b"ab\x1b[31mc")
    two.feed(b"ab")
    assert one.screen.buffer[0][0] is two.screen.buffer[0][0]
    assert one.screen.buffer[0][2].fg == "red" and one.screen.buffer[0][1].fg == "default"
    one.feed(b"\x1b[0m\x1b[2J\x1b[Hplain")
    assert one.text() == "plain" and one.screen.buffer[0][0].fg == "default"


def test_styled_rows_kept_across_reads_equal_a_fresh_render() -> None:
    """The dashboard keeps each row's styled text until the row is drawn on, moving it
    with scrolls: every read must equal rendering every row afresh, colours included."""
    from orchtui.ui.render import screen_lines

    rng = random.Random(11)
    vt = VirtualScreen(30, 8)
    for step in range(3000):
        chunk = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 12))).encode()
        vt.feed(chunk)
        if step % 500 == 499:
            vt.resize(rng.randint(20, 40), rng.randint(5, 10))
        if rng.random() < 0.4:  # read after some chunks only: scrolls pile up in between
            kept = screen_lines(vt)
            saved, vt.styled = vt.styled, [None] * len(vt.styled)
            fresh = screen_lines(vt)  # every row rendered from its cells
            vt.styled = saved
            assert kept == fresh, f"step {step}"


def test_a_released_screen_is_freed_without_the_collector_and_can_still_be_fed() -> None:
    """The engine freezes what its sessions hold (gc.freeze); a session let go must still
    give its screen back, which pyte's parser (a cycle) would otherwise keep."""
    gc.disable()
    try:
        kept = VirtualScreen(40, 5)
        kept.feed(b"hello\r\n")
        kept_ref = weakref.ref(kept.screen)
        del kept
        assert kept_ref() is not None  # the cycle holds it until a collection

        released = VirtualScreen(40, 5)
        released.feed(b"hello\r\n")
        ref = weakref.ref(released.screen)
        released.release()
        released.feed(b"still fed\r\n")  # a late feed goes to a blank screen
        assert "still fed" in "\n".join(released.lines())
        del released
        assert ref() is None
    finally:
        gc.enable()
        gc.collect()


def test_printable_ascii_is_drawn_as_pyte_draws_it() -> None:
    """The fast path for printable ASCII (screen/vt.py: _Screen.draw) leaves every cell,
    the cursor and the dirty rows as pyte's own draw does, across wraps, attributes,
    charsets, insert mode and wrapping off."""
    rng = random.Random(7)
    pieces = [
        "plain words ",
        "x" * 57,
        "\x1b[1;31mred bold\x1b[0m",
        "\x1b[4h inserted \x1b[4l",
        "\x1b[?7l no wrap " * 3 + "\x1b[?7h",
        "\x1b(0lqqk\x1b(B",
        "\x1b)0\x0eqqq\x0f",
        "héllo wörld ",
        "wide 漢字 ",
        "\r\n",
        "\x1b[2K",
        "\x1b[5;10H",
        "\t|",
        "\x08\x08",
    ]
    data = "".join(rng.choice(pieces) for _ in range(3000))
    fast, slow = VirtualScreen(41, 12), VirtualScreen(41, 12)
    slow.screen.draw = lambda text: pyte.Screen.draw(slow.screen, text)  # type: ignore[method-assign]
    for start in range(0, len(data), 97):
        chunk = data[start : start + 97].encode()
        fast.feed(chunk)
        slow.feed(chunk)
        assert (fast.screen.cursor.x, fast.screen.cursor.y) == (slow.screen.cursor.x, slow.screen.cursor.y)
        assert fast.screen.dirty == slow.screen.dirty
    for y in range(12):
        assert dict(fast.screen.buffer[y]) == dict(slow.screen.buffer[y]), y
    assert fast.lines() == slow.lines()
