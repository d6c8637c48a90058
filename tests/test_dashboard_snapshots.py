"""How the dashboard looks (pytest-textual-snapshot). Deterministic: fixed ids, clock,
timestamps and log contents (see dashboard_fixture.py)."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from dashboard_fixture import NOW, world, world_with_run  # noqa: F401 - the fixtures
from dashboard_helpers import until
from orchtui.engine.context import Context
from orchtui.ui.app import OrchtuiApp
from orchtui.ui.modals import NewSessionScreen
from orchtui.ui.widgets import ScreenView


def make_app(ctx: Context) -> OrchtuiApp:
    return OrchtuiApp(ctx, ctx.config.home.parent / "project", start_engine=False, clock=lambda: NOW)


async def loaded(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, OrchtuiApp)
    await until(pilot, lambda: app.snap is not None and app.query_one(ScreenView)._lines)
    await settle(pilot)


async def settle(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, OrchtuiApp)
    for _ in range(2):  # a finished refresh can schedule one more (e.g. the screen of a new selection)
        await until(pilot, lambda: app.settled)
        await pilot.pause(0.1)
    await pilot.pause()


def test_main_screen_with_every_status(world: Context, snap_compare: Any) -> None:  # noqa: F811
    assert snap_compare(make_app(world), terminal_size=(160, 45), run_before=loaded)


def test_main_screen_80x24(world: Context, snap_compare: Any) -> None:  # noqa: F811
    assert snap_compare(make_app(world), terminal_size=(80, 24), run_before=loaded)


def test_waiting_session_selected(world: Context, snap_compare: Any) -> None:  # noqa: F811
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


def test_new_session_modal(world: Context, snap_compare: Any) -> None:  # noqa: F811
    async def open_modal(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(pilot.app.screen, NewSessionScreen))
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False  # a blinking cursor is caught on or off by the clock
        await settle(pilot)

    assert snap_compare(make_app(world), terminal_size=(120, 40), run_before=open_modal)


def test_cost_and_gates_tabs(world: Context, snap_compare: Any) -> None:  # noqa: F811
    async def show_cost(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        pilot.app.query_one("#tabs").active = "tab-cost"  # type: ignore[attr-defined]
        await settle(pilot)

    assert snap_compare(make_app(world), terminal_size=(160, 45), run_before=show_cost)


def test_details_at_80x24(world: Context, snap_compare: Any) -> None:  # noqa: F811
    async def details(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("d")
        await settle(pilot)

    assert snap_compare(make_app(world), terminal_size=(80, 24), run_before=details)


def test_inline_approval_prompt(world_with_run: Context, snap_compare: Any) -> None:  # noqa: F811
    assert snap_compare(make_app(world_with_run), terminal_size=(160, 45), run_before=loaded)


def test_gates_pane_of_a_run(world_with_run: Context, snap_compare: Any) -> None:  # noqa: F811
    async def show_gates(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        pilot.app.query_one("#tabs").active = "tab-gates"  # type: ignore[attr-defined]
        await settle(pilot)

    assert snap_compare(make_app(world_with_run), terminal_size=(160, 45), run_before=show_gates)
