"""The diff view's widgets, all on Textual's line API (a frame renders only the visible
lines): the file list, a file's diff, and the status line."""

from __future__ import annotations

from rich.console import Console
from rich.style import Style
from rich.syntax import Syntax
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget

from orchtui.services.worktree_diff import FileChange

SHOWN_LINES = 4000  # a file's diff lines rendered (the rest is summarised)
MARK = Style(reverse=True)
NAME_WIDTH = 30


def render(diff: str, theme: str) -> list[Strip]:
    """A diff as highlighted lines, rendered to strips (run in a worker thread: the UI
    thread only crops the visible ones)."""
    lines = diff.splitlines()
    shown = "\n".join(lines[:SHOWN_LINES])
    text = Syntax(shown, "diff", theme=theme).highlight(shown) if shown else Text("(binary or empty)")
    out = list(text.split("\n", allow_blank=True))
    if len(lines) > SHOWN_LINES:
        out.append(Text(f"… {len(lines) - SHOWN_LINES} more lines", style="dim"))
    return strips(out)


def strips(lines: list[Text]) -> list[Strip]:
    console = Console(width=max((line.cell_len for line in lines), default=1) + 1, color_system=None)
    return [Strip(list(line.render(console)), line.cell_len) for line in lines]


class DiffBody(ScrollView, can_focus=False):
    """A file's diff through the line API: each frame crops only the visible lines."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: list[Strip] = []
        self.marked: int | None = None  # the current hunk's @@ line, drawn reversed

    def show(self, lines: list[Strip]) -> None:
        self.lines = lines
        self.marked = None
        self.virtual_size = Size(max((line.cell_length for line in lines), default=0), len(lines))
        self.scroll_to(0, 0, animate=False)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        x, top = self.scroll_offset
        index = top + y
        if index >= len(self.lines):
            return Strip.blank(self.size.width)
        line = self.lines[index].apply_style(MARK) if index == self.marked else self.lines[index]
        return line.crop_extend(x, x + self.size.width, None)

    def mark(self, line: int, span: int) -> None:
        """Make `line` the current hunk; scroll only when its first `span` lines are not all
        in view (a repaint of two lines is all a hunk jump within the view costs)."""
        old, self.marked = self.marked, line
        top, height = self.scroll_offset.y, self.size.height
        if line < top or line + min(span, height) > top + height:
            self.scroll_to(y=line, animate=False, immediate=True)
            self.refresh()
            return
        for index in (old, line):
            if index is not None and top <= index < top + height:
                self.refresh_line(index - top)


class StatusLine(Widget):
    """One line of text; changing it repaints the line only (a Static's update re-lays out
    the whole screen, which cost every key ~20 ms here)."""

    text: reactive[str] = reactive("")

    def render(self) -> str:
        return self.text


class FileList(ScrollView, can_focus=True):
    """Changed files with +/- counts and a cursor. Adding 200 files is one list extend,
    moving the cursor repaints two lines."""

    BINDINGS = [
        Binding("up,k", "move(-1)", show=False),
        Binding("down,j", "move(1)", show=False),
        Binding("pageup", "move(-10)", show=False),
        Binding("pagedown", "move(10)", show=False),
        Binding("home", "move(-1000000)", show=False),
        Binding("end", "move(1000000)", show=False),
    ]

    class Highlighted(Message):
        def __init__(self, change: FileChange) -> None:
            super().__init__()
            self.change = change

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.files: list[FileChange] = []
        self.cursor = 0
        self._strips: list[Strip] = []

    def add(self, files: list[FileChange]) -> None:
        first = not self.files
        self.files.extend(files)
        self._strips.extend(strips([_file_line(f) for f in files]))
        self.virtual_size = Size(NAME_WIDTH + 14, len(self.files))
        self.refresh()
        if first and self.files:
            self.post_message(self.Highlighted(self.files[0]))

    def action_move(self, step: int) -> None:
        self.move_to(self.cursor + step)

    def move_to(self, index: int) -> bool:
        index = max(0, min(index, len(self.files) - 1))
        if not self.files or index == self.cursor:
            return False
        old, self.cursor = self.cursor, index
        self.scroll_to_region(Region(0, index, 1, 1), animate=False, immediate=True)
        top = self.scroll_offset.y
        for line in (old, index):
            self.refresh_line(line - top)
        self.post_message(self.Highlighted(self.files[index]))
        return True

    def render_line(self, y: int) -> Strip:
        top = self.scroll_offset.y
        index = top + y
        if index >= len(self._strips):
            return Strip.blank(self.size.width)
        line = self._strips[index]
        if index == self.cursor:
            line = line.apply_style(CURSOR)
        return line.crop_extend(0, self.size.width, None)


CURSOR = Style(reverse=True, bold=True)


def _file_line(change: FileChange) -> Text:
    name = change.path if len(change.path) <= NAME_WIDTH else "…" + change.path[-(NAME_WIDTH - 1) :]
    line = Text(name.ljust(NAME_WIDTH + 1))
    line.append(f"+{change.added}".ljust(7), style="green")
    line.append(f"-{change.deleted}".ljust(6), style="red")
    return line
