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
from pyte import modes as mo
from pyte.screens import Char, Margins
from wcwidth import wcwidth

log = logging.getLogger("orchtui.screen")

# A synchronized update (DEC private mode 2026): between `?2026h` and `?2026l` the agent
# is drawing one frame, and a terminal shows nothing of it until the frame ends.
_SYNC = re.compile(rb"\x1b\[\?2026([hl])")
_ANSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def strip_ansi(data: bytes) -> str:
    text = _ANSI.sub(b"", data).decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


_CELLS: dict[tuple[Char, str], _Cell] = {}  # (attributes, text) -> the cell: drawn cells are shared
_CELLS_LIMIT = 65536


class _Cell(Char):
    """pyte makes a new cell for every character drawn (`attrs._replace(data=char)`),
    most of a streaming agent's cost. Cells are immutable, so one per (attributes,
    character) is made once and shared by every screen."""

    __slots__ = ()

    def _replace(self, **changes: Any) -> _Cell:
        if len(changes) != 1 or "data" not in changes:
            return super()._replace(**changes)  # new attributes (SGR): stays a _Cell
        key = (self, changes["data"])
        cell = _CELLS.get(key)
        if cell is None:
            if len(_CELLS) >= _CELLS_LIMIT:
                _CELLS.clear()
            cell = _CELLS[key] = super()._replace(**changes)
        return cell


_ROWS_OF: dict[Char, dict[str, Char]] = {}  # attributes -> character -> its shared cell


def _cells(attrs: Char) -> dict[str, Char]:
    """The shared cells drawn with `attrs`, by character (hashing attributes once a run)."""
    table = _ROWS_OF.get(attrs)
    if table is None:
        if len(_ROWS_OF) >= _CELLS_LIMIT // 64:
            _ROWS_OF.clear()
        table = _ROWS_OF[attrs] = {}
    return table


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

    def reset(self) -> None:
        super().reset()
        self.cursor.attrs = _Cell._make(self.cursor.attrs)

    def draw(self, data: str) -> None:
        """pyte's, for a run of printable ASCII drawn with wrapping on and insert mode off
        (nearly all an agent prints): each such character is one column wide, so a row's
        worth is written at once, with no width lookup per character. Anything else is
        pyte's own."""
        text = data.translate(self.g1_charset if self.charset else self.g0_charset)
        if not (text.isascii() and text.isprintable()) or mo.IRM in self.mode or mo.DECAWM not in self.mode:
            super().draw(data)  # it translates the data itself
            return
        data, cursor, columns = text, self.cursor, self.columns
        while data:
            if cursor.x == columns:  # the last column was written: wrap
                self.dirty.add(cursor.y)
                self.carriage_return()
                self.linefeed()
            room = columns - cursor.x
            run, data = data[:room], data[room:]
            attrs, line, x = cursor.attrs, self.buffer[cursor.y], cursor.x
            table = _cells(attrs)
            for char in run:
                cell = table.get(char)
                if cell is None:
                    cell = table[char] = attrs._replace(data=char)
                line[x] = cell
                x += 1
            cursor.x = x
        self.dirty.add(cursor.y)

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

    def erase_in_line(self, how: int = 0, private: bool = False) -> None:
        """pyte writes a blank cell into every erased column: 200 objects for each
        `ESC [ 2 K`, which spinners send many times a second. A blank without attributes
        is what a row's missing columns read as, so here those columns are dropped."""
        blank = self.cursor.attrs
        if private or blank != self.default_char:
            super().erase_in_line(how, private)
            return
        self.dirty.add(self.cursor.y)
        x = self.cursor.x
        start, stop = {0: (x, self.columns), 1: (0, x + 1), 2: (0, self.columns)}.get(how, (0, 0))
        line = self.buffer[self.cursor.y]
        for column in [c for c in line if start <= c < stop]:
            del line[column]

    def erase_in_display(self, how: int = 0, *args: Any, **kwargs: Any) -> None:
        """As pyte's, but whole rows: pyte repaints only the columns a row has stored,
        so a coloured clear left the other columns plain. A plain blank drops them all."""
        blank = self.cursor.attrs
        y = self.cursor.y
        rows = {0: range(y + 1, self.lines), 1: range(y), 2: range(self.lines), 3: range(self.lines)}
        interval = rows.get(how, range(0))
        self.dirty.update(interval)
        for row in interval:
            line = self.buffer[row]
            if blank == self.default_char:
                line.clear()
            else:
                for x in range(self.columns):
                    line[x] = blank
        if how in (0, 1):
            self.erase_in_line(how)


def _public_only(method: Callable[..., Any]) -> Callable[..., Any]:
    def handler(*args: Any, private: bool = False, **kwargs: Any) -> Any:
        return None if private else method(*args, **kwargs)

    return handler


class VirtualScreen:
    def __init__(self, cols: int, rows: int) -> None:
        self.screen = _Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self._rows: list[str] = [""] * rows
        # per row, what a viewer made of it (ui/render.py: styled text); dropped when the
        # row is drawn on, moved with it when the screen scrolls
        self.styled: list[object | None] = [None] * rows
        self.frame_open = False  # the agent is inside a synchronized update: the screen is half-drawn
        self._sync_tail = b""

    def _render(self, y: int) -> str:
        line = self.screen.buffer[y]
        if not line:
            return ""
        columns = self.screen.columns
        cells = [" "] * min(columns, max(line) + 1)  # a row stores only the columns drawn on
        for x, cell in line.items():
            if x < columns:
                cells[x] = cell.data
        plain = "".join(cells)
        if plain.isascii():
            return plain.rstrip()
        chars = []
        wide = False
        for char in cells:
            if wide:  # the cell after a double-width character is its right half
                wide = False
                continue
            wide = bool(char) and wcwidth(char[0]) == 2
            chars.append(char)
        return "".join(chars).rstrip()

    @property
    def size(self) -> tuple[int, int]:
        return self.screen.columns, self.screen.lines

    def release(self) -> None:
        """Its session is let go. A pyte screen is all cycles (its parser is a generator
        holding the stream, its rows' default is a lambda holding the screen, its handlers
        here hold it too), which only the collector frees, and not at all once frozen
        (engine: gc.freeze). They are broken here, so refcounting frees it all at once. A
        late feed goes to a blank screen of the same size."""
        cols, rows = self.size
        parser = getattr(self.stream, "_parser", None)
        if parser is not None and hasattr(parser, "close"):
            parser.close()
        self.stream.__dict__.clear()
        self.screen.__dict__.clear()
        self.screen = _Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)

    def feed(self, data: bytes) -> None:
        """Bytes an agent printed. No byte sequence may stop orchtui from following the
        agent: should the emulator still fail on one, its parser starts afresh."""
        try:
            self.stream.feed(data)
        except Exception as exc:  # pyte's parser is a generator: after a raise it is spent
            log.warning("terminal emulator: %s: %s; parser reset", type(exc).__name__, exc)
            self.stream = pyte.ByteStream(self.screen)
        self._note_frames(data)

    def _note_frames(self, data: bytes) -> None:
        """Whether the bytes so far leave a synchronized update open (a sequence may be
        split across two reads: the last few bytes are kept)."""
        text = self._sync_tail + data
        ends = _SYNC.findall(text)
        if ends:
            self.frame_open = ends[-1] == b"h"
        self._sync_tail = text[-7:]

    def lines(self) -> list[str]:
        """The visible rows, right-trimmed. Rows move with the screen's scrolls; only rows
        drawn on since the last call are rendered again."""
        screen = self.screen
        scrolls, screen.scrolls = screen.scrolls, []
        dirty = set(screen.dirty)
        screen.dirty.clear()
        rows, styled = self._rows, self.styled
        if len(rows) != screen.lines:
            rows = self._rows = [""] * screen.lines
            styled = self.styled = [None] * screen.lines
            dirty = set(range(screen.lines))
        else:
            for top, bottom in scrolls:
                rows[top:bottom] = rows[top + 1 : bottom + 1]
                rows[bottom] = ""
                styled[top:bottom] = styled[top + 1 : bottom + 1]
                styled[bottom] = None
        for y in dirty:
            if 0 <= y < screen.lines:
                rows[y] = self._render(y)
                styled[y] = None
        return list(rows)

    def text(self) -> str:
        return "\n".join(self.lines()).rstrip("\n")

    def resize(self, cols: int, rows: int) -> None:
        self.screen.resize(rows, cols)

    def seed(self, captured_lines: list[str], cursor_x: int, cursor_y: int) -> None:
        """Replace the screen with a capture (`capture-pane -p -e`) and its cursor."""
        self.screen.reset()
        self.frame_open, self._sync_tail = False, b""
        body = "\r\n".join(captured_lines[: self.screen.lines])
        self.feed(b"\x1b[2J\x1b[H" + body.encode("utf-8", errors="replace"))
        self.feed(f"\x1b[0m\x1b[{cursor_y + 1};{cursor_x + 1}H".encode())
