"""The diff view: a worktree's changes against its base.

Files (with +/- counts) on the left, the selected file's syntax-highlighted unified diff
on the right. git runs only in worker threads: the file list first, then one `git diff`
for every tracked file (split per file), so moving through files needs no more git; a
file's diff is highlighted and rendered in a worker (the selected one, then its
neighbours) and shown through the line API. Opening the view on thousands of changed
lines never blocks a key (bench/diff.py). Keys: ↑/↓ or [ ] files, n/p hunks (across
files), c comments on the current hunk (queued to the session's agent as a prompt), Esc
back.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.strip import Strip
from textual.timer import Timer
from textual.widgets import Footer

from orchtui.errors import OrchtuiError
from orchtui.services.worktree_diff import FileChange, WorktreeDiff
from orchtui.ui.background import background
from orchtui.ui.diff_widgets import SHOWN_LINES, DiffBody, FileList, StatusLine, render, strips
from orchtui.ui.modals import PromptScreen
from orchtui.ui.views import CoveringView

BATCH = 2000  # file rows added per UI update while the list loads
SETTLE = 0.08  # seconds the cursor rests on a file not fetched yet before it is fetched alone
HUNK = re.compile(r"^@@ .* @@", re.MULTILINE)


@dataclass(frozen=True)
class Hunk:
    line: int  # index of its @@ line in the file's diff
    header: str
    text: str


def hunks_of(diff: str) -> list[Hunk]:
    lines = diff.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("@@")]
    return [
        Hunk(
            start,
            lines[start],
            "\n".join(lines[start : (starts[k + 1] if k + 1 < len(starts) else len(lines))]),
        )
        for k, start in enumerate(starts)
    ]


def comment_prompt(path: str, hunk: Hunk, comment: str) -> str:
    return (
        f"Review comment on {path}, at `{hunk.header}`:\n\n```diff\n{hunk.text}\n```\n\n{comment.strip()}\n\n"
        "Address it in this worktree and commit."
    )


class DiffScreen(CoveringView):
    refresh_beneath = 2.0  # only alerts matter beneath it: keep its keys quick
    BINDINGS = [
        Binding("escape,q", "close", "Back"),
        Binding("right_square_bracket", "next_file", "Next file"),
        Binding("left_square_bracket", "prev_file", "Prev file"),
        Binding("n", "next_hunk", "Next hunk"),
        Binding("p", "prev_hunk", "Prev hunk"),
        Binding("c", "comment", "Comment"),
    ]
    DEFAULT_CSS = """
    DiffScreen #diff-files { width: 48; height: 1fr; border: round $primary 60%; }
    DiffScreen #diff-body { width: 1fr; height: 1fr; border: round $secondary 60%; }
    DiffScreen #diff-status { height: 1; padding: 0 1; background: $primary 20%; }
    """

    def __init__(
        self,
        session_id: str,
        worktree: Path,
        base: str,
        send: Callable[[str, str], None],
        syntax_theme: str = "ansi_dark",
    ) -> None:
        super().__init__()
        self.session_id = session_id
        self.worktree = worktree
        self.base = base
        self.send = send  # (session id, prompt text)
        self.syntax_theme = syntax_theme
        self.files: list[FileChange] = []
        self.position: dict[str, int] = {}  # path -> index in files
        self.totals = (0, 0)  # lines added, deleted over all files
        self.diffs: dict[str, str] = {}
        self.rendered: dict[str, list[Strip]] = {}
        self.hunks: list[Hunk] = []
        self.hunk_index = -1
        self.current: str | None = None
        self.loaded = False
        self._pending_hunk: int | None = None  # after a cross-file jump: 0 (first) or -1 (last)
        self._settle: Timer | None = None

    def compose(self) -> ComposeResult:
        yield StatusLine(id="diff-status")
        with Horizontal():
            yield FileList(id="diff-files")
            yield DiffBody(id="diff-body")
        yield Footer()

    def on_mount(self) -> None:
        self._status(f"Diff · {self.session_id} vs {self.base} · loading…")
        files = self.query_one(FileList)
        files.border_title = "files"
        files.focus()
        self._load_files()

    # loading ----------------------------------------------------------------
    @background(group="diff-files", exclusive=True)
    def _load_files(self) -> None:
        try:
            files = WorktreeDiff(self.worktree, self.base).files()
        except OrchtuiError as exc:
            self.app.call_from_thread(self._status, f"cannot read the diff: {exc}")
            return
        for start in range(0, len(files), BATCH):
            self.app.call_from_thread(self._add_rows, files[start : start + BATCH])
        self.app.call_from_thread(self._files_done)

    def _add_rows(self, batch: list[FileChange]) -> None:
        for change in batch:
            self.position[change.path] = len(self.files)
            self.files.append(change)
        added, deleted = self.totals
        self.totals = (added + sum(f.added for f in batch), deleted + sum(f.deleted for f in batch))
        self.query_one(FileList).add(batch)

    def _files_done(self) -> None:
        self.loaded = True
        self._prefetch()
        if not self.files:
            self._status("no changes against the base")
            self.query_one(DiffBody).show(strips([Text("Nothing changed.")]))
        else:
            self._update_status()

    def on_file_list_highlighted(self, event: FileList.Highlighted) -> None:
        if event.change.path != self.current:
            self._select(event.change.path)

    @background(group="diff-all", exclusive=True)
    def _prefetch(self) -> None:
        """Every tracked file's diff in one git call, so moving through files needs no git."""
        try:
            diffs = WorktreeDiff(self.worktree, self.base).patches()
        except OrchtuiError:
            return
        self.app.call_from_thread(self._prefetched, diffs)

    def _prefetched(self, diffs: dict[str, str]) -> None:
        for path, text in diffs.items():
            self.diffs.setdefault(path, text)
        gc.freeze()  # the file list and diffs live as long as the view: no full GC passes over them
        if self.current in diffs and self.current not in self.rendered:
            self._select(self.current)

    def _select(self, path: str) -> None:
        self.current = path
        if self._settle is not None:
            self._settle.stop()
            self._settle = None
        if path in self.rendered:
            self._show(path)
            return
        self.query_one(DiffBody).show(strips([Text(f"loading {path} …", style="dim")]))
        if path in self.diffs:
            self._render_one(path)
        else:  # not prefetched yet: fetch it alone once the cursor rests
            self._settle = self.set_timer(SETTLE, lambda: self._render_one(path))

    @background(group="diff-one", exclusive=True)
    def _render_one(self, path: str) -> None:
        self._render_now(path)

    @background(group="diff-near", exclusive=True)
    def _render_near(self, paths: list[str]) -> None:
        """The files next to the current one, rendered ahead so ] [ n p find them ready."""
        for path in paths:
            if path not in self.rendered and path in self.diffs:
                self._render_now(path)

    def _render_now(self, path: str) -> None:
        change = self.files[self.position[path]]
        text = self.diffs.get(path)
        try:
            text = text if text is not None else WorktreeDiff(self.worktree, self.base).patch(change)
        except OrchtuiError as exc:
            text = f"cannot read the diff of {path}: {exc}"
        lines = render(text, self.syntax_theme)
        self.app.call_from_thread(self._rendered, path, text, lines)

    def _rendered(self, path: str, text: str, lines: list[Strip]) -> None:
        self.diffs[path] = text
        self.rendered[path] = lines
        if path == self.current:
            self._show(path)

    def _show(self, path: str) -> None:
        self.hunks = [h for h in hunks_of(self.diffs[path]) if h.line < SHOWN_LINES]
        self.query_one(DiffBody).show(self.rendered[path])
        index = self.position.get(path, 0)
        self._render_near(
            [f.path for f in self.files[index + 1 : index + 3] + self.files[max(0, index - 1) : index]]
        )
        pending, self._pending_hunk = self._pending_hunk, None
        if self.hunks:
            self._go_hunk((pending or 0) % len(self.hunks))
        else:
            self.hunk_index = -1
            self._update_status()

    # status -----------------------------------------------------------------
    def _status(self, text: str) -> None:
        self.query_one(StatusLine).text = text

    def _update_status(self) -> None:
        if self.current is None:
            return
        index = self.position.get(self.current, 0)
        change = self.files[index]
        hunk = f"hunk {self.hunk_index + 1}/{len(self.hunks)}" if self.hunks else "no hunks"
        total_added, total_deleted = self.totals
        more = "" if self.loaded else " · loading…"
        count = f"{len(self.files)} file{'s' if len(self.files) != 1 else ''}"
        totals = f"{count} +{total_added} -{total_deleted}{more}"
        self._status(
            f"Diff · {self.session_id} vs {self.base} · {totals}"
            f" · file {index + 1}: {change.path} ({change.status}) · {hunk}"
        )

    # navigation -------------------------------------------------------------
    def _move_file(self, step: int, hunk: int | None = None) -> bool:
        files = self.query_one(FileList)
        target = files.cursor + step
        if not 0 <= target < len(files.files):
            return False
        self._pending_hunk = hunk
        return files.move_to(target)

    def action_next_file(self) -> None:
        self._move_file(1)

    def action_prev_file(self) -> None:
        self._move_file(-1)

    def _go_hunk(self, index: int) -> None:
        self.hunk_index = index
        hunk = self.hunks[index]
        self.query_one(DiffBody).mark(hunk.line, hunk.text.count("\n") + 1)
        self._update_status()

    def action_next_hunk(self) -> None:
        if self.current not in self.diffs:
            return
        if self.hunk_index + 1 < len(self.hunks):
            self._go_hunk(self.hunk_index + 1)
        else:
            self._move_file(1, hunk=0)

    def action_prev_hunk(self) -> None:
        if self.current not in self.diffs:
            return
        if self.hunk_index > 0:
            self._go_hunk(self.hunk_index - 1)
        else:
            self._move_file(-1, hunk=-1)

    # actions ----------------------------------------------------------------
    def action_comment(self) -> None:
        if self.current is None or not self.hunks or self.hunk_index < 0:
            self.notify("No hunk selected.", severity="warning")
            return
        path, hunk = self.current, self.hunks[self.hunk_index]

        def done(text: str | None) -> None:
            if text is not None:
                self.send(self.session_id, comment_prompt(path, hunk, text))

        self.app.push_screen(PromptScreen(f"Comment on {path} {hunk.header} → {self.session_id}"), done)

    def action_close(self) -> None:
        self.dismiss(None)
