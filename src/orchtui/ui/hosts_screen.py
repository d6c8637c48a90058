"""The hosts screen (`H`): every worker of the fleet sharing this database, with its state,
heartbeat, sessions against capacity, load, installed agents, address and version,
looked at again every two seconds. Esc goes back."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from orchtui.services import fleet
from orchtui.services.context import Context
from orchtui.ui.background import background
from orchtui.ui.views import CoveringView

STATE_STYLE = {"live": "green", "stale": "red", "stopped": "dim"}
COLUMNS = (
    ("host", 14),
    ("state", 8),
    ("heartbeat", 10),
    ("sessions", 9),
    ("load", 6),
    ("agents", 24),
    ("address", 18),
    ("version", 8),
)
EVERY = 2.0  # seconds between looks


class HostsScreen(CoveringView):
    BINDINGS = [Binding("escape,q", "close", "Back")]
    DEFAULT_CSS = """
    HostsScreen #hosts-table { height: 1fr; border: round $primary 60%; }
    HostsScreen #hosts-note { height: auto; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, ctx: Context, clock: Callable[[], float]) -> None:
        super().__init__()
        self.ctx = ctx
        self.clock = clock
        self.views: list[fleet.HostView] = []

    def compose(self) -> ComposeResult:
        yield DataTable(id="hosts-table", cursor_type="row")
        yield Static("", id="hosts-note")
        yield Footer()

    def on_mount(self) -> None:
        table: DataTable[str | Text] = self.query_one("#hosts-table", DataTable)
        table.border_title = "Hosts"
        for label, width in COLUMNS:
            table.add_column(label, key=label, width=width)
        table.focus()
        self._load()
        self.set_interval(EVERY, self._load)

    @background(group="hosts", exclusive=True)
    def _load(self) -> None:
        views = fleet.hosts(self.ctx, at=self.clock())
        self.app.call_from_thread(self._show, views)

    def _show(self, views: list[fleet.HostView]) -> None:
        table: DataTable[str | Text] = self.query_one("#hosts-table", DataTable)
        keep = table.cursor_row
        table.clear()
        self.views = views
        for v in views:
            table.add_row(
                v.name,
                Text(v.state, style=STATE_STYLE.get(v.state, "")),
                f"{v.heartbeat_age:.0f}s ago",
                f"{v.sessions}/{v.capacity}",
                f"{v.load:.2f}",
                ", ".join(v.agents) or "-",
                v.address,
                v.version,
                key=v.name,
            )
        if views:
            table.move_cursor(row=min(keep, len(views) - 1))
        stale = [v.name for v in views if v.state == "stale"]
        note = "One host: this one." if len(views) <= 1 else f"{len(views)} hosts share this database."
        if stale:
            note += f" Silent: {', '.join(stale)}; their sessions are lost and their runs go on elsewhere."
        self.query_one("#hosts-note", Static).update(note)

    def action_close(self) -> None:
        self.dismiss(None)
