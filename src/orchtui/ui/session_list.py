"""The session list: which sessions it shows (the `/` filter, archived sessions hidden
unless `A`, a run's agents folded under its header) and archiving the ended ones (`E`).
A mixin of OrchtuiApp; it decides from the last snapshot, with no new read."""

from __future__ import annotations

from collections.abc import Callable

from textual import events
from textual.app import App
from textual.widgets import Input

from orchtui.errors import OrchtuiError
from orchtui.services.context import Context
from orchtui.services.dashboard import SessionView, Snapshot
from orchtui.services.session_filter import SessionFilter
from orchtui.services.sessions import SessionService
from orchtui.ui.background import WorkerErrors, background
from orchtui.ui.theme import LoadedTheme
from orchtui.ui.widgets import SessionsTable


class SessionList(WorkerErrors, App[None]):
    ctx: Context
    snap: Snapshot | None
    clock: Callable[[], float]
    loaded_theme: LoadedTheme
    filter: SessionFilter  # `/`
    show_archived: bool  # `A`
    folded: set[str]  # runs shown by their header alone

    def shown_sessions(self, snap: Snapshot) -> list[SessionView]:
        return [v for v in snap.sessions if (self.show_archived or not v.archived) and self.filter.matches(v)]

    def _show_sessions(self, snap: Snapshot, now: float) -> None:
        views = self.shown_sessions(snap)
        self.query_one(SessionsTable).show(snap, self.loaded_theme, now, views, self.folded)
        title = "Sessions"
        hidden = len(snap.sessions) - len(views)
        if self.filter:
            title += f" · {len(views)} of {len(snap.sessions)} · filter"
        elif hidden:
            title += f" · {hidden} archived (A shows)"
        if self.show_archived:
            title += " · archived shown"
        self.query_one("#sessions-box").border_title = title

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("shown")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.filter = SessionFilter.parse(event.value)
            if self.snap is not None:
                self._show_sessions(self.snap, self.clock())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            event.input.set_class(bool(event.value.strip()), "shown")
            self.query_one(SessionsTable).focus()

    def on_key(self, event: events.Key) -> None:
        box = self.query_one("#filter", Input)
        if event.key == "escape" and self.focused is box:  # Esc in the filter: cleared and gone
            event.stop()
            box.value = ""
            box.remove_class("shown")
            self.query_one(SessionsTable).focus()

    def action_toggle_archived(self) -> None:
        self.show_archived = not self.show_archived
        if self.snap is not None:
            self._show_sessions(self.snap, self.clock())
        self.notify("Archived sessions shown." if self.show_archived else "Archived sessions hidden.")

    @background(group="archive")
    def action_archive_ended(self) -> None:
        try:
            changed = SessionService(self.ctx).archive([], ended=True)
        except OrchtuiError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error")
            return
        said = f"Archived {len(changed)} ended session(s); A shows them." if changed else "No ended sessions."
        self.call_from_thread(self.notify, said)

    def toggle_fold(self, run_id: str) -> None:
        """Enter on a run's header: its agents hide or show again."""
        self.folded ^= {run_id}
        if self.snap is not None:
            self._show_sessions(self.snap, self.clock())
