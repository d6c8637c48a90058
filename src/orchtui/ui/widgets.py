"""The dashboard's panes. They render snapshots; they never touch tmux, git or the store."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.widgets import DataTable, Sparkline, Static

from orchtui.engine.dashboard import Snapshot
from orchtui.ui.format import ago, one_line, tokens
from orchtui.ui.theme import LoadedTheme

GATE_MARK = {"pass": ("✔", "green"), "fail": ("✖", "red"), "pending": ("…", "yellow")}
STATE_COLOR = {
    "queued": "grey62",
    "issued": "cyan",
    "delivered": "cyan",
    "running": "dodger_blue1",
    "done": "green",
    "failed": "red",
    "cancelled": "grey50",
}


class SessionsTable(DataTable[Text | str]):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for label, key in (
            ("", "glyph"),
            ("id", "id"),
            ("agent", "agent"),
            ("task", "task"),
            ("status", "status"),
            ("age", "age"),
            ("active", "active"),
            ("queue", "queue"),
        ):
            self.add_column(label, key=key)

    def show(self, snap: Snapshot, theme: LoadedTheme, now: float) -> None:
        keep = self.selected_key()
        self.clear()
        for view in snap.sessions:
            glyph, color = theme.glyph(view.status)
            status = view.status + (f" {view.exit_code}" if view.exit_code is not None else "")
            if view.taken_over:
                status += " (you)"
            self.add_row(
                Text(glyph, style=color),
                view.id,
                view.agent,
                view.task,
                Text(status, style=color),
                ago(now - view.created_at),
                ago(now - view.last_output_at) if view.last_output_at else "-",
                str(view.queued) if view.queued else "",
                key=view.id,
            )
        self.select_key(keep or (snap.selected.id if snap.selected else None))

    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:  # an empty or just-cleared table has no cell under the cursor
            return None
        return str(key) if key is not None else None

    def select_key(self, key: str | None) -> None:
        if key is None:
            return
        try:
            self.move_cursor(row=self.get_row_index(key), animate=False)
        except Exception:  # the row is gone
            return


class LedgerTable(DataTable[Text | str]):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        for label in ("#", "kind", "state", "text", "why"):
            self.add_column(label, key=label)

    def show(self, snap: Snapshot) -> None:
        self.clear()
        for cmd in snap.ledger[-200:]:
            self.add_row(
                str(cmd.id),
                cmd.kind,
                Text(cmd.state, style=STATE_COLOR.get(cmd.state, "")),
                one_line(cmd.text, 40),
                one_line(cmd.cause, 48),
                key=str(cmd.id),
            )
        if self.row_count:
            self.move_cursor(row=self.row_count - 1, animate=False)


class WorktreesTable(DataTable[Text | str]):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        for label in ("session", "branch", "base", "ahead", "behind", "dirty", "state"):
            self.add_column(label, key=label)

    def show(self, snap: Snapshot) -> None:
        self.clear()
        for view in snap.sessions:
            facts = view.git

            def num(value: int | None) -> str:
                return "-" if value is None else str(value)

            dirty = Text(num(facts.dirty), style="yellow" if facts.dirty else "")
            self.add_row(
                view.id,
                view.branch or "-",
                view.base or "-",
                num(facts.ahead),
                num(facts.behind),
                dirty,
                view.worktree_state or "-",
                key=view.id,
            )


class GatesPanel(Static):
    def show(self, snap: Snapshot) -> None:
        if snap.selected is None:
            self.update(Text("No session selected.", style="dim"))
            return
        text = Text()
        text.append(f"{snap.selected.id} {snap.selected.task}\n", style="bold")
        for gate in snap.gates:
            mark, color = GATE_MARK[gate.state]
            text.append(f" {mark} ", style=color)
            text.append(f"{gate.name:<20}", style="bold")
            text.append(f"{gate.why}\n", style="dim")
        self.update(text)


class CostPanel(Static):
    def show(self, snap: Snapshot) -> None:
        tin, tout = snap.tokens
        text = Text()
        text.append(
            f"tokens  in {tokens(tin)}  out {tokens(tout)}  total {tokens(tin + tout)}\n", style="bold"
        )
        for view in sorted(snap.sessions, key=lambda v: -(v.tokens_in + v.tokens_out))[:12]:
            total = view.tokens_in + view.tokens_out
            if not total:
                continue
            share = total / max(1, tin + tout)
            bar = "█" * max(1, round(share * 20))
            text.append(f" {view.id} {one_line(view.task, 14):<14} {tokens(total):>7} ")
            text.append(f"{bar}\n", style="cyan")
        self.update(text)


def spend_series(points: list[tuple[float, int]], buckets: int = 30) -> list[float]:
    """Tokens per time bucket across the observed span, for the sparkline."""
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


class ScreenView(Static):
    """The selected agent's screen, bottom-anchored to the space available."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._lines: list[Text] = []
        self.title_source: Callable[[], str] | None = None

    def show_lines(self, lines: list[Text]) -> None:
        self._lines = lines
        self.refresh()

    def render(self) -> Text:
        lines = list(self._lines)
        while lines and not lines[-1].plain.strip():
            lines.pop()
        height = max(1, self.size.height)
        return Text("\n").join(lines[-height:]) if lines else Text("no output yet", style="dim")
