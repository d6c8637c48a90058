"""The dashboard's panes. They render snapshots; they never touch tmux, git or the store."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rich.text import Text
from textual import events
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import DataTable, Sparkline, Static
from textual.widgets.data_table import ColumnKey, RowKey

from orchtui.services.dashboard import SessionView, Snapshot
from orchtui.ui.format import ago, money, one_line, tokens
from orchtui.ui.theme import LoadedTheme

GATE_MARK = {
    "pass": ("✔", "green"),
    "fail": ("✖", "red"),
    "pending": ("…", "yellow"),
    "warn": ("!", "yellow"),
}
STATE_COLOR = {
    "queued": "grey62",
    "issued": "cyan",
    "delivered": "cyan",
    "running": "dodger_blue1",
    "done": "green",
    "failed": "red",
    "cancelled": "grey50",
}


Cell = Text | str


class SyncedTable(DataTable[Cell]):
    """A table updated by diff: unchanged rows cost nothing, changed cells are updated
    in place, and the table is rebuilt only when the set or order of rows changes."""

    COLUMNS: tuple[tuple[str, str, int], ...] = ()  # label, key, width (fixed: no re-measuring)
    FLEX: tuple[str, ...] = ()  # columns that share the table's spare width (never below their own)

    def on_mount(self) -> None:
        self.cursor_type = "row"
        # DataTable keys its render caches by its update count, so an update makes every
        # entry stale; sized for its 10,000 cells they fill for minutes and look like a
        # leak. A few screens' worth is all that is ever reused.
        self._cell_render_cache.maxsize = 1500
        self._row_render_cache.maxsize = self._row_renderable_cache.maxsize = 200
        self._line_cache.maxsize = 300
        self._rendered: dict[str, tuple[Cell, ...]] = {}
        self._order: list[str] = []
        for label, key, width in self.COLUMNS:
            self.add_column(label, key=key, width=width)

    def on_resize(self, event: events.Resize) -> None:
        self.fit(event.size.width)

    def fit(self, width: int) -> None:
        """The FLEX columns take what the others leave of `width`, so text is not cut
        while there is room and the table never scrolls sideways for want of it."""
        if not self.FLEX or not self.columns:
            return
        pad = 2 * self.cell_padding
        fixed = sum(w + pad for _, key, w in self.COLUMNS if key not in self.FLEX)
        spare = width - fixed - len(self.FLEX) * pad - 2  # 2: the vertical scrollbar
        base = {key: w for _, key, w in self.COLUMNS if key in self.FLEX}
        share = max(0, spare - sum(base.values())) // len(self.FLEX)
        changed = False
        for key, w in base.items():
            column = self.columns[ColumnKey(key)]
            wanted = w + share
            if column.width != wanted:
                column.width, changed = wanted, True
        if changed:
            total = sum(c.get_render_width(self) for c in self.columns.values())
            self.virtual_size = Size(total, self.virtual_size.height)
            self._clear_caches()
            self.refresh()

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """Fixed column widths and row heights leave nothing to measure, yet DataTable
        measures every cell of every new row: 500 rows cost ~50 ms before a first frame."""
        keys = list(new_rows)
        try:
            auto = any(c.auto_width for c in self.columns.values())
            if auto or any(self.rows[k].auto_height for k in keys if k in self.rows):
                super()._update_dimensions(keys)
                return
            cells = sum(c.get_render_width(self) for c in self.columns.values())
            header = self.header_height if self.show_header else 0
            self.virtual_size = Size(cells + self._row_label_column_width, self._total_row_height + header)
        except AttributeError:  # another Textual's insides: measure as it does
            super()._update_dimensions(keys)

    def sync(self, rows: list[tuple[str, tuple[Cell, ...]]]) -> bool:
        """Returns True when rows came or went (the cursor may have to be put back)."""
        order = [key for key, _ in rows]
        self.show_cursor = bool(rows)
        changed = order != self._order
        if changed and not self._reshape(order, rows):
            self.clear()
            for key, cells in rows:
                self.add_row(*cells, key=key)
            self._order = order
            self._rendered = dict(rows)
            return True
        columns = [key for _, key, _ in self.COLUMNS]
        for key, cells in rows:
            old = self._rendered.get(key)
            if old == cells:
                continue
            for index, cell in enumerate(cells):
                if old is None or old[index] != cell:
                    self.update_cell(key, columns[index], cell)
            self._rendered[key] = cells
        return changed

    def _reshape(self, order: list[str], rows: list[tuple[str, tuple[Cell, ...]]]) -> bool:
        """Rows gone and rows added after the others (a session ended and archived, a new
        one), done in place: True. Another order is left to a rebuild: False."""
        keep = set(order)
        kept = [key for key in self._order if key in keep]
        if order[: len(kept)] != kept:
            return False
        for key in self._order:
            if key not in keep:
                self.remove_row(key)
                self._rendered.pop(key, None)
        for key, cells in rows[len(kept) :]:
            self.add_row(*cells, key=key)
            self._rendered[key] = cells
        self._order = order
        return True


GROUP = "repo:"  # key prefix of a repository's header row
RUN = "run:"  # key prefix of a run's header row (Enter folds and unfolds it)


def grouped(
    views: list[SessionView],
    row: Callable[[SessionView], tuple[Cell, ...]],
    header: Callable[[str, str, int], tuple[Cell, ...]],
    folded: set[str] = frozenset(),  # type: ignore[assignment]
) -> list[tuple[str, tuple[Cell, ...]]]:
    """Rows per session; with several repositories (the snapshot keeps each together),
    each repository's sessions under a header row. Within a repository, the sessions of
    no run first, then each run's under the run's header (its sessions hidden while the
    run is `folded`). `header(kind, name, count)`: kind "repo" or "run"."""
    several = len({v.repo for v in views}) > 1
    repos: dict[str, list[SessionView]] = {}
    for view in views:
        repos.setdefault(view.repo, []).append(view)
    rows: list[tuple[str, tuple[Cell, ...]]] = []
    for repo, members in repos.items():
        if several:
            rows.append((f"{GROUP}{repo}", header("repo", repo, 0)))
        runs: dict[str, list[SessionView]] = {}
        for view in members:
            if view.run_id:
                runs.setdefault(view.run_id, []).append(view)
            else:
                rows.append((view.id, row(view)))
        for run_id, agents in runs.items():
            rows.append((f"{RUN}{run_id}", header("run", run_id, len(agents))))
            if run_id not in folded:
                rows += [(view.id, row(view)) for view in agents]
    return rows


def is_header(key: str) -> bool:
    return key.startswith((GROUP, RUN))


class SessionsTable(SyncedTable):
    COLUMNS = (
        ("", "glyph", 1),
        ("id", "id", 6),
        ("agent", "agent", 8),
        ("task", "task", 14),
        ("status", "status", 10),
        ("age", "age", 6),
        ("active", "active", 6),
        ("queue", "queue", 5),
    )
    FLEX = ("task",)

    def on_mount(self) -> None:  # Textual also runs SyncedTable.on_mount (handlers run per class)
        self.zebra_stripes = True

    def show(
        self,
        snap: Snapshot,
        theme: LoadedTheme,
        now: float,
        views: list[SessionView] | None = None,
        folded: set[str] = frozenset(),  # type: ignore[assignment]
    ) -> None:
        """The sessions of `snap` (or the `views` of it that the filter keeps), runs in
        `folded` shown by their header alone."""
        keep = self.selected_key()
        shown = snap.sessions if views is None else views
        fleet = len({v.host for v in shown}) > 1  # sessions on several hosts: each says where

        def row(view: SessionView) -> tuple[Cell, ...]:
            glyph, color = theme.glyph(view.status)
            status = view.status + (f" {view.exit_code}" if view.exit_code is not None else "")
            if view.taken_over:
                status += " (you)"
            active = ago(now - view.last_output_at) if view.last_output_at else "-"
            return (
                Text(glyph, style=color),
                view.id,
                view.agent,
                Text.assemble(view.task, (f" @{view.host}", "dim")) if fleet and view.host else view.task,
                Text(status, style=color),
                ago(now - view.created_at),
                active,
                str(view.queued) if view.queued else "",
            )

        def header(kind: str, name: str, count: int) -> tuple[Cell, ...]:
            if kind == "repo":
                return (Text("▾", style="bold"), "", Text(name, style="bold"), "", "", "", "", "")
            mark = "▸" if name in folded else "▾"
            agents = f"{count} agent{'s' if count != 1 else ''}"
            return (
                Text(mark, style="bold"),
                Text("run", style="bold"),
                Text(name, style="bold"),
                agents,
                "",
                "",
                "",
                "",
            )

        rows = grouped(shown, row, header, folded)
        if self.sync(rows):
            self.select_key(keep or (snap.selected.id if snap.selected else None))

    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:  # an empty or just-cleared table has no cell under the cursor
            return None
        return str(key) if key is not None and not is_header(str(key)) else None

    def cursor_key(self) -> str | None:
        """The row under the cursor, a header included."""
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None
        return None if key is None else str(key)

    def select_key(self, key: str | None) -> None:
        if key is None:
            return
        try:
            self.move_cursor(row=self.get_row_index(key), animate=False)
        except Exception:  # the row is gone
            return


class LedgerTable(SyncedTable):
    COLUMNS = (
        ("#", "id", 4),
        ("kind", "kind", 8),
        ("state", "state", 9),
        ("text", "text", 24),
        ("why", "why", 24),
    )
    FLEX = ("text", "why")

    def show(self, snap: Snapshot) -> None:
        # Rows are keyed by position, not by command: another session's ledger then
        # changes cells in place, where new rows would lay the whole screen out again.
        rows: list[tuple[str, tuple[Cell, ...]]] = [
            (
                str(position),
                (
                    str(cmd.id),
                    cmd.kind,
                    Text(cmd.state, style=STATE_COLOR.get(cmd.state, "")),
                    one_line(cmd.text, 200),  # the column shows what fits
                    one_line(cmd.cause, 200),
                ),
            )
            for position, cmd in enumerate(snap.ledger[-200:])
        ]
        session = snap.selected.id if snap.selected else None
        moved = self.sync(rows) or session != getattr(self, "_session", None)
        self._session = session
        if moved and self.row_count:  # the latest command of the session shown
            self.move_cursor(row=self.row_count - 1, animate=False)


def _num(value: int | None) -> str:
    return "-" if value is None else str(value)


class WorktreesTable(SyncedTable):
    COLUMNS = (
        ("session", "session", 7),
        ("branch", "branch", 28),
        ("base", "base", 12),
        ("ahead", "ahead", 5),
        ("behind", "behind", 6),
        ("dirty", "dirty", 5),
        ("state", "state", 8),
    )

    class Moved(Message):
        """Other rows may be on screen: it scrolled, or its size changed (it was laid out)."""

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(old_value) != round(new_value):
            self.post_message(self.Moved())

    def on_resize(self, event: events.Resize) -> None:  # (SyncedTable's runs too)
        self.post_message(self.Moved())

    def visible_keys(self) -> list[str]:
        """The sessions whose rows are on screen (none while the tab is hidden)."""
        first = round(self.scroll_y)
        height = self.size.height - (self.header_height if self.show_header else 0)
        rows = self.ordered_rows[first : first + max(0, height)]
        return [str(r.key.value) for r in rows if r.key.value is not None and not is_header(str(r.key.value))]

    def show(self, snap: Snapshot) -> bool:
        """True when the rows were laid out again (other rows may be on screen)."""

        def row(view: SessionView) -> tuple[Cell, ...]:
            return (
                view.id,
                view.branch or "-",
                view.base or "-",
                _num(view.git.ahead),
                _num(view.git.behind),
                Text(_num(view.git.dirty), style="yellow" if view.git.dirty else ""),
                view.worktree_state or "-",
            )

        def header(kind: str, name: str, count: int) -> tuple[Cell, ...]:
            label = f"▾ {name}" if kind == "repo" else f"▾ run {name}"
            return ("", Text(label, style="bold"), "", "", "", "", "")

        return self.sync(grouped(snap.sessions, row, header))


class GatesPanel(Static):
    def show(self, snap: Snapshot) -> None:
        text = Text()
        if snap.run is not None:
            run = snap.run
            text.append(
                f"run {run.id} · {run.playbook} · {run.task} · stage {run.stage} "
                f"(attempt {run.attempt}) · {run.state}\n",
                style="bold",
            )
            if run.detail:
                text.append(f"  {run.detail}\n", style="dim")
            for gate in snap.run_gates:
                self._line(text, gate.name, gate.state, gate.why)
            if not snap.run_gates:
                text.append("  no gate checked yet in this stage\n", style="dim")
            text.append("\n")
        if snap.selected is None:
            text.append("No session selected.", style="dim")
        else:
            text.append(f"session {snap.selected.id} {snap.selected.task}\n", style="bold")
            for gate in snap.checks:
                self._line(text, gate.name, gate.state, gate.why)
        self.update(text)

    @staticmethod
    def _line(text: Text, name: str, state: str, why: str) -> None:
        mark, color = GATE_MARK.get(state, ("?", ""))
        text.append(f" {mark} ", style=color)
        text.append(f"{name:<20}", style="bold")
        text.append(f"{why}\n", style="dim")


class ApprovalBar(Static):
    """The inline approval prompt: what would happen, answered with one key."""

    def show(self, snap: Snapshot) -> None:
        if not snap.approvals:
            self.set_class(False, "shown")
            return
        first = snap.approvals[0]
        text = Text()
        text.append(f"▶ approval #{first.id} · {first.about}: ", style="bold")
        text.append(first.summary.replace("\n", "\n   ") + "\n")
        text.append("   y approve · x reject (with a reason) · o details", style="bold")
        if len(snap.approvals) > 1:
            text.append(f" · {len(snap.approvals) - 1} more waiting", style="dim")
        if text != getattr(self, "_shown", None):  # a new text lays the screen out again
            self._shown = text
            self.update(text)
        self.set_class(True, "shown")


class CostPanel(Static):
    """Tokens and dollars per session, live, with bars of each one's share of the spend."""

    def show(self, snap: Snapshot) -> None:
        tin, tout = snap.tokens
        spent = sum(v.cost for v in snap.sessions)
        text = Text()
        text.append(f"spent {money(spent)}", style="bold")
        text.append(f"   tokens in {tokens(tin)}  out {tokens(tout)}\n")
        for line in snap.budgets:
            text.append(f"{line}\n", style="yellow" if "!" in line else "dim")
        for line in snap.race:
            text.append(f"{line}\n", style="green" if line.endswith(" won") else "dim")
        text.append(f" {'session':<8}{'task':<15}{'model':<18}{'in':>7}{'out':>7}{'cost':>10}\n", style="dim")
        busiest = sorted(snap.sessions, key=lambda v: (-v.cost, -(v.tokens_in + v.tokens_out), v.id))
        for view in busiest[:12]:
            if not view.tokens_in + view.tokens_out:
                continue
            share = view.cost / spent if spent else 0.0
            text.append(f" {view.id:<8}{one_line(view.task, 14):<15}{one_line(view.model or '-', 17):<18}")
            text.append(f"{tokens(view.tokens_in):>7}{tokens(view.tokens_out):>7}{money(view.cost):>10} ")
            text.append(f"{'█' * max(1, round(share * 16)) if view.cost else ''}\n", style="cyan")
        text.append("spend over time", style="dim")
        self.update(text)


def spend_series(points: list[tuple[float, float]], buckets: int = 30) -> list[float]:
    """Dollars per time bucket across the observed span, for the sparkline."""
    if not points:
        return [0.0]
    start, end = points[0][0], points[-1][0]
    width = max((end - start) / buckets, 1e-9)
    series = [0.0] * buckets
    for at, amount in points:
        series[min(buckets - 1, int((at - start) / width))] += amount
    return series


class SpendSparkline(Sparkline):
    def show(self, snap: Snapshot) -> None:
        self.data = spend_series(snap.usage_points)


class ScreenView(Widget):
    """The selected agent's screen, bottom-anchored to the space available. Rows are
    painted as cached strips: a new frame repaints only the rows that changed, and a row
    that scrolled up is the strip it was (kept by its content, not its place)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: list[Text] = []  # the screen's rows, trailing blank rows dropped
        self._strips: LRUCache[tuple[object, ...], Strip] = LRUCache(400)  # (text, width) → strip

    def show_lines(self, lines: list[Text]) -> None:
        lines = list(lines)
        while lines and not lines[-1].plain.strip():
            lines.pop()
        if lines == self._lines:
            return
        before = self._shown()
        self._lines = lines
        after = self._shown()
        if len(before) != len(after) or not after:
            self.refresh()
            return
        width = self.size.width
        for y, (old, new) in enumerate(zip(before, after, strict=True)):
            if old != new:
                self.refresh(Region(0, y, width, 1))

    def _shown(self) -> list[Text]:
        return self._lines[-max(1, self.size.height) :]

    def render_line(self, y: int) -> Strip:
        width, style = self.size.width, self.rich_style
        shown = self._shown()
        if not shown:
            line = Text("no output yet", style="dim") if y == 0 else None
        else:
            line = shown[y] if y < len(shown) else None
        if line is None:
            return Strip.blank(width, style)
        key = (line.plain, tuple(line.spans), line.style, width, style)
        cached = self._strips.get(key)
        if cached is not None:
            return cached
        text = line.copy()
        text.stylize_before(style)
        strip = Strip(text.render(self.app.console), text.cell_len).crop_extend(0, width, style)
        strip = strip.apply_style(style)  # a terminal's rows are cut, never wrapped
        self._strips[key] = strip
        return strip
