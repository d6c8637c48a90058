"""A run's race side by side (`c`): per entry its agent, state, gates, diff stat, cost,
time and score, and the highlighted entry's gates with their evidence. Enter opens the
entry's diff; `p` picks it when the race waits for the operator. Looked at again every
two seconds while open; Esc goes back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from orchtui.errors import OrchtuiError
from orchtui.services import races
from orchtui.services.context import Context
from orchtui.services.sessions import operator
from orchtui.ui.background import background
from orchtui.ui.views import CoveringView

COLUMNS = (
    ("entry", 6),
    ("agent", 14),
    ("state", 8),
    ("gates", 6),
    ("diff", 16),
    ("cost", 9),
    ("time", 6),
    ("score", 8),
    ("result", 7),
)
STATE_STYLE = {"passed": "green", "failed": "red", "stopped": "dim", "gating": "yellow"}
EVERY = 2.0  # seconds between looks
EVIDENCE_LINES = 6  # of each gate's evidence, under the table


class RaceScreen(CoveringView):
    BINDINGS = [
        Binding("escape,q", "close", "Back"),
        Binding("enter", "diff", "Diff"),
        Binding("p", "pick", "Pick"),
    ]
    DEFAULT_CSS = """
    RaceScreen #race-table { height: auto; max-height: 14; border: round $primary 60%; }
    RaceScreen #race-note { height: auto; padding: 0 1; }
    RaceScreen #race-gates { height: 1fr; padding: 0 1; border: round $secondary 60%; }
    """

    def __init__(self, ctx: Context, run_id: str, open_diff: Callable[[str, Path, str], None]) -> None:
        super().__init__()
        self.ctx = ctx
        self.run_id = run_id
        self.open_diff = open_diff  # (session id, worktree, base)
        self.view: races.RaceView | None = None

    def compose(self) -> ComposeResult:
        yield DataTable(id="race-table", cursor_type="row")
        yield Static("", id="race-note")
        yield Static("", id="race-gates")
        yield Footer()

    def on_mount(self) -> None:
        table: DataTable[str | Text] = self.query_one("#race-table", DataTable)
        for label, width in COLUMNS:
            table.add_column(label, key=label, width=width)
        table.focus()
        self._load()
        self.set_interval(EVERY, self._load)

    @background(group="race", exclusive=True)
    def _load(self) -> None:
        views = races.races(self.ctx, self.run_id)
        undecided = [v for v in views if not v.decided]
        shown = undecided[-1] if undecided else views[-1] if views else None
        self.app.call_from_thread(self._show, shown)

    def _show(self, view: races.RaceView | None) -> None:
        table: DataTable[str | Text] = self.query_one("#race-table", DataTable)
        keep = table.cursor_row
        table.clear()
        self.view = view
        if view is None:
            self.query_one("#race-note", Static).update(f"Run {self.run_id} has no race.")
            return
        table.border_title = f"Race of {view.stage} · run {view.run_id} · attempt {view.attempt}"
        for e in view.entries:
            passed = sum(g.state == "pass" for g in e.gates)
            table.add_row(
                f"{e.number}{' ✔' if e.picked else ''}",
                e.agent,
                Text(e.state, style=STATE_STYLE.get(e.state, "")),
                f"{passed}/{len(e.gates)}",
                f"{e.files}f +{e.added} -{e.deleted}",
                f"${e.cost_usd:.4f}",
                f"{e.seconds:.0f}s",
                "-" if e.score is None else f"{e.score:g}",
                Text(e.result or "-", style="bold green" if e.result == "won" else ""),
                key=str(e.number),
            )
        if view.entries:
            table.move_cursor(row=min(keep, len(view.entries) - 1))
        how = {
            "first_pass": "the first entry to pass wins",
            "best_score": "the best passing score wins once all are judged",
            "operator": "you pick the winner",
        }[view.pick]
        state = (
            "decided"
            if view.decided
            else "judged: p picks the highlighted entry"
            if view.awaiting_pick
            else "under way"
        )
        self.query_one("#race-note", Static).update(f"{view.count} entries; {how}. {state}. Enter: its diff.")
        self._show_gates()

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_gates()

    def on_data_table_row_selected(self, _event: DataTable.RowSelected) -> None:
        self.action_diff()  # Enter on a row (the table has the focus, and takes the key)

    def _highlighted(self) -> races.EntryView | None:
        if self.view is None or not self.view.entries:
            return None
        row = self.query_one("#race-table", DataTable).cursor_row
        return self.view.entries[min(max(row, 0), len(self.view.entries) - 1)]

    def _show_gates(self) -> None:
        entry = self._highlighted()
        text = Text()
        if entry is not None:
            text.append(f"Entry {entry.number} ({entry.agent}) on {entry.branch or '-'}\n", style="bold")
            for gate in entry.gates:
                style = "green" if gate.state == "pass" else "red" if gate.state == "fail" else "yellow"
                text.append(f"{gate.type} {gate.index}: {gate.state}", style=style)
                text.append(f" — {gate.why}\n")
                for line in gate.evidence.splitlines()[:EVIDENCE_LINES]:
                    text.append(f"    {line}\n", style="dim")
            if not entry.gates:
                text.append("No gate has judged it yet.\n", style="dim")
        self.query_one("#race-gates", Static).update(text)

    def action_diff(self) -> None:
        entry = self._highlighted()
        if entry is None or entry.session_id is None:
            return
        if not entry.worktree or not entry.base or not Path(entry.worktree).is_dir():
            where = f"; its branch is kept at {entry.kept_ref}" if entry.kept_ref else ""
            self.notify(f"Entry {entry.number}'s worktree is gone{where}.", severity="warning")
            return
        self.open_diff(entry.session_id, Path(entry.worktree), entry.base)

    def action_pick(self) -> None:
        entry = self._highlighted()
        if entry is not None:
            self._pick(entry.number)

    @background(group="race-pick")
    def _pick(self, number: int) -> None:
        try:
            races.pick(self.ctx, self.run_id, number, operator())
        except OrchtuiError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="warning")
            return
        self.app.call_from_thread(self.notify, f"Entry {number} picked: the run moves on with it.")
        self._load()

    def action_close(self) -> None:
        self.dismiss(None)
