"""`?`: every key of the dashboard and what it does, in words; the command palette's
entries, made from the same table (ui/keys.py). `KeysHelp` is a mixin of OrchtuiApp."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

from orchtui.services.context import Context
from orchtui.ui.keys import KEYS


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close"),
        Binding("question_mark", "close", "Close"),
    ]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        """rows: (key as shown, name, what it does)."""
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("name", no_wrap=True)
        table.add_column("what", ratio=1)
        for key, name, what in self.rows:
            table.add_row(key, name, what)
        with Vertical(id="dialog", classes="dialog help"):
            yield Label("Keys (Esc closes; Ctrl+P finds any of them by name)", classes="dialog-title")
            with VerticalScroll():
                yield Static(table)

    def action_close(self) -> None:
        self.dismiss(None)


class KeysHelp(App[None]):
    ctx: Context

    def key_of(self, action: str, key: str) -> str:
        """The key as the operator presses it (after `[keys]` remapping)."""
        remapped = self.ctx.config.keys.get(action, key)
        return ", ".join(self.get_key_display(Binding(k.strip(), action)) for k in remapped.split(","))

    def action_help(self) -> None:
        rows = [(self.key_of(k.action, k.key), k.name, k.what) for k in KEYS]
        rows.insert(
            4, ("Enter", "Open", "Take over the selected agent (as t); on a run's header, fold or unfold it")
        )
        rows += [
            ("↑ ↓", "Move", "Select another session"),
            ("Tab", "Focus", "Move between the sessions, the tabs and the output"),
            ("Ctrl+P", "Palette", "Find any of these by name, and Textual's own (theme, screenshot)"),
        ]
        self.push_screen(HelpScreen(rows))

    def deliver_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str | None:
        """The palette's Screenshot: into orchtui's own folder (a Downloads folder may not exist)."""
        if path is None:
            folder = self.ctx.config.state.home / "screenshots"
            folder.mkdir(parents=True, exist_ok=True)
            path = str(folder)
        return super().deliver_screenshot(filename, path, time_format)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for k in KEYS:
            if k.action != "quit":
                yield SystemCommand(
                    f"{k.name} ({self.key_of(k.action, k.key)})", k.what, getattr(self, f"action_{k.action}")
                )
