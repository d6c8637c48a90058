"""A crew of many: `/` filters, ended sessions are archived, a run's agents are grouped
under a header that folds, `?` lists every key, Enter takes over."""

from __future__ import annotations

import pytest

from dashboard_fixture import NOW
from dashboard_helpers import type_text, until
from orchtui.errors import UsageError
from orchtui.services.context import Context
from orchtui.services.sessions import SessionService
from orchtui.ui.app import OrchtuiApp
from orchtui.ui.help import HelpScreen
from orchtui.ui.keys import KEYS
from orchtui.ui.widgets import SessionsTable


def dashboard(world: Context) -> OrchtuiApp:
    return OrchtuiApp(world, world.config.home.parent / "project", start_engine=False, clock=lambda: NOW)


def rows(app: OrchtuiApp) -> list[str]:
    table = app.query_one(SessionsTable)
    return [str(key.value) for key in table.rows]


async def test_slash_filters_by_word_and_field_and_esc_clears(world: Context) -> None:
    app = dashboard(world)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.snap is not None)
        assert rows(app) == ["a1b2c3", "d4e5f6", "0a0b0c", "9f8e7d"]
        await pilot.press("slash")
        await type_text(pilot, "status:waiting")
        await until(pilot, lambda: rows(app) == ["0a0b0c"])
        assert "1 of 4" in str(app.query_one("#sessions-box").border_title)
        await pilot.press(*["backspace"] * len("status:waiting"))
        await type_text(pilot, "login")  # a word: part of the task, branch, id …
        await until(pilot, lambda: rows(app) == ["d4e5f6"])
        await pilot.press("enter")  # kept; the list has the keys again
        assert app.focused is app.query_one(SessionsTable)
        await pilot.press("slash", "escape")  # Esc in the filter clears it
        await until(pilot, lambda: len(rows(app)) == 4)
        assert app.focused is app.query_one(SessionsTable)
        await pilot.press("slash")
        await type_text(pilot, "agent:co status:live")
        await until(pilot, lambda: rows(app) == ["0a0b0c"])
        await pilot.press("backspace", "backspace", "backspace", "backspace", "backspace")
        await type_text(pilot, "ended")
        await until(pilot, lambda: rows(app) == [])
        assert app.selected in (None, "0a0b0c")  # nothing hidden stays the target of a key


async def test_ended_sessions_are_archived_hidden_and_shown_with_a(world: Context) -> None:
    app = dashboard(world)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.snap is not None)
        await pilot.press("E")  # archive every ended session: 9f8e7d (exited 1)
        await until(pilot, lambda: rows(app) == ["a1b2c3", "d4e5f6", "0a0b0c"])
        assert world.records.session("9f8e7d").archived_at is not None
        assert "1 archived" in str(app.query_one("#sessions-box").border_title)
        await pilot.press("A")
        await until(pilot, lambda: "9f8e7d" in rows(app))
        await pilot.press("A")
        await until(pilot, lambda: "9f8e7d" not in rows(app))


def test_archiving_refuses_a_live_session_and_can_be_undone(world: Context) -> None:
    service = SessionService(world)
    with pytest.raises(UsageError, match="still running"):
        service.archive(["d4e5f6"])
    assert world.records.session("d4e5f6").archived_at is None
    assert service.archive([], ended=True) == ["9f8e7d"]
    assert service.archive([], ended=True) == []  # already archived
    assert service.archive(["9f8e7d"], undo=True) == ["9f8e7d"]
    assert world.records.session("9f8e7d").archived_at is None


async def test_a_runs_agents_are_grouped_under_a_header_that_folds(world_with_run: Context) -> None:
    app = dashboard(world_with_run)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.snap is not None)
        # the sessions of no run first, then the run's under its header
        assert rows(app) == ["d4e5f6", "0a0b0c", "9f8e7d", "run:7e57ab", "a1b2c3"]
        table = app.query_one(SessionsTable)
        table.move_cursor(row=3)
        await pilot.press("enter")  # on the header: folds it
        await until(pilot, lambda: rows(app) == ["d4e5f6", "0a0b0c", "9f8e7d", "run:7e57ab"])
        table.move_cursor(row=3)
        await pilot.press("enter")
        await until(pilot, lambda: rows(app)[3:] == ["run:7e57ab", "a1b2c3"])


async def test_question_mark_lists_every_key_in_words(world: Context) -> None:
    app = dashboard(world)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.snap is not None)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        listed = {name: what for _key, name, what in screen.rows}
        for key in KEYS:
            assert listed[key.name] == key.what
        assert "Enter" in [key for key, _name, _what in screen.rows]
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_enter_on_an_ended_session_says_there_is_nothing_to_take_over(world: Context) -> None:
    app = dashboard(world)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.snap is not None)
        app.query_one(SessionsTable).select_key("9f8e7d")
        await until(pilot, lambda: app.selected == "9f8e7d")
        await pilot.press("enter")
        await until(pilot, lambda: any("no agent to take over" in str(n.message) for n in app._notifications))


async def test_with_no_agent_installed_the_dashboard_says_how_to_install_one(world: Context) -> None:
    """This world has only git on PATH: the dashboard says no coding agent is installed,
    and the new-session form gives the command that installs the one chosen."""
    from textual.widgets import Select, Static

    from orchtui.ui.modals import NewSessionScreen

    app = dashboard(world)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: any("is installed" in str(n.message) for n in app._notifications))
        said = next(str(n.message) for n in app._notifications if "is installed" in str(n.message))
        assert said.startswith("None of aider, claude, codex, gemini is installed"), said
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewSessionScreen))
        app.screen.query_one("#agent", Select).value = "claude"
        await until(
            pilot,
            lambda: (
                "npm install -g @anthropic-ai/claude-code"
                in str(app.screen.query_one("#install", Static).render())
            ),
        )
