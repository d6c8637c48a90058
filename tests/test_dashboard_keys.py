"""Keys: remappable from the config, and every action is in the command palette."""

from __future__ import annotations

from textual.binding import Binding

from dashboard_fixture import NOW
from dashboard_helpers import until
from orchtui.services.context import Context
from orchtui.ui.app import OrchtuiApp
from orchtui.ui.modals import NewSessionScreen


async def test_keys_are_remapped_from_the_config(world: Context) -> None:
    world.config.keys = {"new_session": "f2"}
    app = OrchtuiApp(world, world.config.home.parent / "project", start_engine=False, clock=lambda: NOW)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.snap is not None)
        await pilot.press("n")  # the old key no longer opens it
        await pilot.pause(0.2)
        assert not isinstance(app.screen, NewSessionScreen)
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, NewSessionScreen))


async def test_every_action_is_in_the_command_palette(world: Context) -> None:
    """Each key's action is in the palette by its name and key, described in words."""
    from orchtui.ui.keys import KEYS

    app = OrchtuiApp(world, world.config.home.parent / "project", start_engine=False, clock=lambda: NOW)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.snap is not None)
        helps = {command.title: command.help for command in app.get_system_commands(app.screen)}
        for key in KEYS:
            if key.action == "quit":
                continue
            title = f"{key.name} ({app.get_key_display(Binding(key.key, key.action))})"
            assert helps.get(title) == key.what, (title, sorted(helps))
            assert key.what and key.what != key.name
        assert helps["Take over (t)"].startswith("Attach to the selected agent")


async def test_memory_and_approval_details_open_from_the_dashboard(world_with_run: Context) -> None:
    from textual.widgets import TextArea

    from orchtui.store.db import now
    from orchtui.store.tables import Artifact
    from orchtui.ui.modals import TextScreen

    world_with_run.runs.add_artifact(
        Artifact(
            run_id="7e57ab",
            stage="plan",
            name="memory:PLAN.md",
            content="# Plan\n\n## Goal\nadd() adds\n",
            at=now(),
        )
    )
    app = OrchtuiApp(
        world_with_run, world_with_run.config.home.parent / "project", start_engine=False, clock=lambda: NOW
    )
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.snap is not None and app.snap.run is not None)
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, TextScreen))
        assert "add() adds" in app.screen.query_one(TextArea).text
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, TextScreen))
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, TextScreen))
        assert '"stage": "merge"' in app.screen.query_one(TextArea).text


async def test_a_worker_error_is_a_notification_and_the_dashboard_goes_on(world: Context) -> None:
    """One error boundary: an unexpected error in a background load is shown and logged;
    the app keeps running and the next refresh works."""
    app = OrchtuiApp(world, world.config.home.parent / "project", start_engine=False, clock=lambda: NOW)
    real = app.source.snapshot
    calls: list[int] = []

    def flaky(selected):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        return real(selected)

    app.source.snapshot = flaky  # type: ignore[method-assign]
    shown: list[str] = []
    real_notify = app.notify
    app.notify = lambda message, **kw: (shown.append(message), real_notify(message, **kw))[1]  # type: ignore[method-assign]
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.snap is not None)
        app.request_refresh()
        await until(pilot, lambda: any("disk on fire" in m for m in shown))
        assert app.is_running
        before = app.refresh_count
        app.request_refresh()
        await until(pilot, lambda: app.refresh_count > before)
    assert any(m.startswith("data failed: RuntimeError: disk on fire") for m in shown), shown


async def test_pause_resume_retry_and_cancel_a_run_by_key(world_with_run: Context) -> None:
    from orchtui.ui.modals import ConfirmScreen

    app = OrchtuiApp(
        world_with_run, world_with_run.config.home.parent / "project", start_engine=False, clock=lambda: NOW
    )

    def run_state() -> tuple[str, int]:
        run = world_with_run.runs.get("7e57ab")
        return run.state, run.attempt

    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.snap is not None and app.snap.run is not None)
        await pilot.press("p")
        await until(pilot, lambda: run_state() == ("paused", 2))
        await until(
            pilot,
            lambda: app.snap is not None and app.snap.run is not None and app.snap.run.state == "paused",
        )
        await pilot.press("G")  # a new attempt of its stage
        await until(pilot, lambda: run_state() == ("pending", 3))
        await until(
            pilot,
            lambda: app.snap is not None and app.snap.run is not None and app.snap.run.state == "pending",
        )
        await pilot.press("G")  # only a paused or failed run
        await until(
            pilot, lambda: any("only a paused or failed run" in n.message for n in app._notifications)
        )
        await pilot.press("C")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")  # the focused choice keeps it running
        await pilot.pause(0.3)
        assert run_state()[0] == "pending"
        await pilot.press("C")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: run_state()[0] == "cancelled")


async def test_the_layout_follows_each_resize_at_once(world: Context) -> None:
    """160 → 80 stacks the panes, 80 → 200 puts them side by side: after one resize each
    (the layout used to follow the size before the resize)."""
    app = OrchtuiApp(world, world.config.home.parent / "project", start_engine=False, clock=lambda: NOW)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.snap is not None)
        assert not app.screen.has_class("narrow")
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: app.screen.has_class("narrow"))
        await pilot.resize_terminal(200, 50)
        await until(pilot, lambda: not app.screen.has_class("narrow"))
