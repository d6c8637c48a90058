"""The diff view: a worktree's changes against its base.

Files (with +/- counts) on the left, the selected file's syntax-highlighted unified diff
on the right. Everything git does runs in worker threads: the file list arrives in
batches, and a file's diff is computed when it is selected (then cached), so opening the
view on thousands of changed lines never blocks a key. Keys: ↑/↓ or [ ] files, n/p
hunks (across files), c comments on the current hunk (queued to the session's agent as
a prompt), Esc back.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.syntax import Syntax
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from orchtui.errors import OrchtuiError
from orchtui.runtime.git_changes import FileChange, changed_files, file_diff
from orchtui.ui.modals import PromptScreen

BATCH = 50  # file rows added per UI update while the list loads
SHOWN_LINES = 4000  # a file's diff lines rendered (the rest is summarised)
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


class DiffScreen(Screen[None]):
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
    DiffScreen #diff-scroll { width: 1fr; border: round $secondary 60%; }
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
        self.diffs: dict[str, str] = {}
        self.hunks: list[Hunk] = []
        self.hunk_index = -1
        self.current: str | None = None
        self.loaded = False
        self._pending_hunk: int | None = None  # after a cross-file jump: 0 (first) or -1 (last)

    def compose(self) -> ComposeResult:
        yield Static(f"Diff · {self.session_id} · against {self.base} · loading…", id="diff-status")
        with Horizontal():
            table: DataTable[str | Text] = DataTable(id="diff-files", cursor_type="row", zebra_stripes=False)
            yield table
            with VerticalScroll(id="diff-scroll"):
                yield Static("", id="diff-body")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#diff-files", DataTable)
        table.add_column("file", key="file", width=30)
        table.add_column("+", key="added", width=5)
        table.add_column("-", key="deleted", width=5)
        table.focus()
        self._load_files()

    # loading ----------------------------------------------------------------
    @work(thread=True, exclusive=True, group="diff-files")
    def _load_files(self) -> None:
        try:
            files = changed_files(self.worktree, self.base)
        except OrchtuiError as exc:
            self.app.call_from_thread(self._status, f"cannot read the diff: {exc}")
            return
        for start in range(0, len(files), BATCH):
            self.app.call_from_thread(self._add_rows, files[start : start + BATCH])
        self.app.call_from_thread(self._files_done)

    def _add_rows(self, batch: list[FileChange]) -> None:
        table = self.query_one("#diff-files", DataTable)
        first = not self.files
        for f in batch:
            name = f.path if len(f.path) <= 30 else "…" + f.path[-29:]
            table.add_row(
                name, Text(f"+{f.added}", style="green"), Text(f"-{f.deleted}", style="red"), key=f.path
            )
        self.files.extend(batch)
        if first and self.files:
            self._select(self.files[0].path)

    def _files_done(self) -> None:
        self.loaded = True
        if not self.files:
            self._status("no changes against the base")
            self.query_one("#diff-body", Static).update("Nothing changed.")
        else:
            self._update_status()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None and event.row_key.value != self.current:
            self._select(str(event.row_key.value))

    def _select(self, path: str) -> None:
        self.current = path
        if path in self.diffs:
            self._show(path)
        else:
            self.query_one("#diff-body", Static).update(Text(f"loading {path} …", style="dim"))
            self._load_diff(path)

    @work(thread=True, exclusive=True, group="diff-one")
    def _load_diff(self, path: str) -> None:
        change = next(f for f in self.files if f.path == path)
        try:
            text = file_diff(self.worktree, self.base, change)
        except OrchtuiError as exc:
            text = f"cannot read the diff of {path}: {exc}"
        self.app.call_from_thread(self._diff_loaded, path, text)

    def _diff_loaded(self, path: str, text: str) -> None:
        self.diffs[path] = text
        if path == self.current:
            self._show(path)

    def _show(self, path: str) -> None:
        text = self.diffs[path]
        self.hunks = hunks_of(text)
        lines = text.splitlines()
        shown = "\n".join(lines[:SHOWN_LINES])
        if len(lines) > SHOWN_LINES:
            shown += f"\n… {len(lines) - SHOWN_LINES} more lines (orchtui diff {self.session_id})"
        body = self.query_one("#diff-body", Static)
        body.update(Syntax(shown or "(binary or empty)", "diff", theme=self.syntax_theme, word_wrap=False))
        pending, self._pending_hunk = self._pending_hunk, None
        if pending is not None and self.hunks:
            self._go_hunk(pending % len(self.hunks))
        else:
            self.hunk_index = 0 if self.hunks else -1
            self.query_one("#diff-scroll", VerticalScroll).scroll_home(animate=False)
            self._update_status()

    # status -----------------------------------------------------------------
    def _status(self, text: str) -> None:
        self.query_one("#diff-status", Static).update(text)

    def _update_status(self) -> None:
        if self.current is None:
            return
        index = next((i for i, f in enumerate(self.files) if f.path == self.current), 0)
        change = self.files[index]
        hunk = f"hunk {self.hunk_index + 1}/{len(self.hunks)}" if self.hunks else "no hunks"
        total_added = sum(f.added for f in self.files)
        total_deleted = sum(f.deleted for f in self.files)
        more = "" if self.loaded else " · loading…"
        count = f"{len(self.files)} file{'s' if len(self.files) != 1 else ''}"
        totals = f"{count} +{total_added} -{total_deleted}{more}"
        self._status(
            f"Diff · {self.session_id} vs {self.base} · {totals}"
            f" · file {index + 1}: {change.path} ({change.status}) · {hunk}"
        )

    # navigation -------------------------------------------------------------
    def _move_file(self, step: int, hunk: int | None = None) -> bool:
        table = self.query_one("#diff-files", DataTable)
        target = table.cursor_row + step
        if not 0 <= target < table.row_count:
            return False
        self._pending_hunk = hunk
        table.move_cursor(row=target)
        return True

    def action_next_file(self) -> None:
        self._move_file(1)

    def action_prev_file(self) -> None:
        self._move_file(-1)

    def _go_hunk(self, index: int) -> None:
        self.hunk_index = index
        scroll = self.query_one("#diff-scroll", VerticalScroll)
        scroll.scroll_to(y=self.hunks[index].line, animate=False)
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
