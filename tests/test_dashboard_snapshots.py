"""How the dashboard looks (pytest-textual-snapshot). Deterministic: fixed ids, clock,
timestamps and log contents (see dashboard_fixture.py)."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from dashboard_fixture import NOW
from dashboard_helpers import type_text, until
from orchtui.services.context import Context
from orchtui.ui.app import OrchtuiApp
from orchtui.ui.modals import NewSessionScreen
from orchtui.ui.widgets import ScreenView, SessionsTable


def make_app(ctx: Context) -> OrchtuiApp:
    return OrchtuiApp(ctx, ctx.config.home.parent / "project", start_engine=False, clock=lambda: NOW)


async def loaded(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, OrchtuiApp)
    await until(pilot, lambda: app.snap is not None and app.query_one(ScreenView)._lines)
    await settle(pilot)
    app.clear_notifications()  # "no agent installed" (this world has none): tested on its own
    await pilot.pause()


async def settle(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, OrchtuiApp)
    for _ in range(2):  # a finished refresh can schedule one more (e.g. the screen of a new selection)
        await until(pilot, lambda: app.settled)
        await pilot.pause(0.1)
    await pilot.pause()


def test_main_screen_with_every_status(world: Context, snap_compare: Any) -> None:
    assert snap_compare(make_app(world), terminal_size=(160, 45), run_before=loaded)


def test_main_screen_80x24(world: Context, snap_compare: Any) -> None:
    assert snap_compare(make_app(world), terminal_size=(80, 24), run_before=loaded)


def test_waiting_session_selected(world: Context, snap_compare: Any) -> None:
    async def select_waiting(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("w")
        await until(pilot, lambda: pilot.app.selected == "0a0b0c")  # type: ignore[attr-defined]
        await until(
            pilot,
            lambda: "Would you like" in " ".join(t.plain for t in pilot.app.query_one(ScreenView)._lines),
        )
        await pilot.pause()

    assert snap_compare(make_app(world), terminal_size=(160, 45), run_before=select_waiting)


def test_new_session_modal(world: Context, snap_compare: Any) -> None:
    async def open_modal(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(pilot.app.screen, NewSessionScreen))
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False  # a blinking cursor is caught on or off by the clock
        await settle(pilot)

    assert snap_compare(make_app(world), terminal_size=(120, 40), run_before=open_modal)


def test_cost_and_gates_tabs(world: Context, snap_compare: Any) -> None:
    async def show_cost(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        pilot.app.query_one("#tabs").active = "tab-cost"  # type: ignore[attr-defined]
        await settle(pilot)

    assert snap_compare(make_app(world), terminal_size=(160, 45), run_before=show_cost)


def test_details_at_80x24(world: Context, snap_compare: Any) -> None:
    async def details(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("d")
        await settle(pilot)

    assert snap_compare(make_app(world), terminal_size=(80, 24), run_before=details)


def test_inline_approval_prompt(world_with_run: Context, snap_compare: Any) -> None:
    assert snap_compare(make_app(world_with_run), terminal_size=(160, 45), run_before=loaded)


def test_gates_pane_of_a_run(world_with_run: Context, snap_compare: Any) -> None:
    async def show_gates(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        pilot.app.query_one(SessionsTable).select_key("a1b2c3")  # the run's agent
        await until(pilot, lambda: pilot.app.selected == "a1b2c3")  # type: ignore[attr-defined]
        pilot.app.query_one("#tabs").active = "tab-gates"  # type: ignore[attr-defined]
        await settle(pilot)

    assert snap_compare(make_app(world_with_run), terminal_size=(160, 45), run_before=show_gates)


async def help_open(pilot: Pilot[Any]) -> None:
    await loaded(pilot)
    await pilot.press("question_mark")
    await pilot.pause(0.3)


def test_help_80x24(world: Context, snap_compare: Any) -> None:
    assert snap_compare(make_app(world), terminal_size=(80, 24), run_before=help_open)


def test_help_200x50(world: Context, snap_compare: Any) -> None:
    assert snap_compare(make_app(world), terminal_size=(200, 50), run_before=help_open)


async def filtered(pilot: Pilot[Any]) -> None:
    await loaded(pilot)
    await pilot.press("slash")
    await type_text(pilot, "status:waiting")
    await until(pilot, lambda: pilot.app.selected == "0a0b0c")  # type: ignore[attr-defined]
    await settle(pilot)


def test_filter_80x24(world: Context, snap_compare: Any) -> None:
    assert snap_compare(make_app(world), terminal_size=(80, 24), run_before=filtered)


def test_filter_200x50(world: Context, snap_compare: Any) -> None:
    assert snap_compare(make_app(world), terminal_size=(200, 50), run_before=filtered)


async def archived(pilot: Pilot[Any]) -> None:
    await loaded(pilot)
    await pilot.press("E")
    await until(pilot, lambda: "archived" in str(pilot.app.query_one("#sessions-box").border_title))
    pilot.app.clear_notifications()
    await settle(pilot)


def test_archive_80x24(world: Context, snap_compare: Any) -> None:
    assert snap_compare(make_app(world), terminal_size=(80, 24), run_before=archived)


def test_archive_200x50(world: Context, snap_compare: Any) -> None:
    assert snap_compare(make_app(world), terminal_size=(200, 50), run_before=archived)


def test_run_grouped_200x50(world_with_run: Context, snap_compare: Any) -> None:
    assert snap_compare(make_app(world_with_run), terminal_size=(200, 50), run_before=loaded)
