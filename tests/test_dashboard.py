"""The dashboard driven through Pilot, on the real engine, tmux, git and SQLite."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from textual.widgets import Button, Input, Static, TabbedContent

from dashboard_helpers import type_text, until
from helpers import Orch, engine_context, wait_for
from orchtui.services.context import Context
from orchtui.services.dashboard import DashboardSource
from orchtui.services.sessions import SessionService
from orchtui.ui import app as app_module
from orchtui.ui.app import OrchtuiApp
from orchtui.ui.modals import ConfirmScreen, NewSessionScreen, PromptScreen
from orchtui.ui.widgets import SessionsTable, WorktreesTable


@pytest.fixture
def ctx(orch: Orch, monkeypatch: pytest.MonkeyPatch) -> Context:
    return engine_context(orch, monkeypatch)


def session(app: OrchtuiApp, task: str):  # type: ignore[no-untyped-def]
    return next((s for s in (app.snap.sessions if app.snap else []) if s.task == task), None)


async def test_create_through_the_modal_send_and_see_it_done(orch: Orch, ctx: Context) -> None:
    """With another session already selected, the one `n` creates is selected once it shows."""
    first = SessionService(ctx).create(orch.repo, "scripted", "already-here").id
    app = OrchtuiApp(ctx, orch.repo)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.selected == first)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewSessionScreen))
        await type_text(pilot, "from-modal")
        await pilot.press("enter")
        await until(pilot, lambda: (s := session(app, "from-modal")) and s.status == "idle")
        new = session(app, "from-modal").id
        await until(pilot, lambda: app.selected == new)
        assert app.query_one(SessionsTable).selected_key() == new

        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await type_text(pilot, "hello dashboard")
        await pilot.press("ctrl+s")
        sid = session(app, "from-modal").id
        await until(pilot, lambda: app.snap and app.snap.ledger and app.snap.ledger[-1].state == "done")
        assert [e["text"] for e in orch.transcript(sid) if e["type"] == "prompt"] == ["hello dashboard"]
        seen = [e["data"]["new"] for e in orch.json("events", sid) if e["kind"] == "status"]
        assert seen[:3] == ["idle", "working", "idle"]
        assert "hello dashboard" in " ".join(t.plain for t in app.query_one("#screen")._lines)


async def test_queue_while_working_is_delivered_when_idle(orch: Orch, ctx: Context) -> None:
    sid = SessionService(ctx).create(orch.repo, "scripted", "busy").id
    orch.wait_status(sid, "idle")
    app = OrchtuiApp(ctx, orch.repo)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.selected == sid)
        await pilot.press("s")
        await type_text(pilot, "slow job")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: (s := session(app, "busy")) and s.status == "working")
        await pilot.press("u")
        await type_text(pilot, "after the slow one")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.snap and len(app.snap.ledger) == 2)
        first, second = (c.state for c in app.snap.ledger)
        if first == "running":  # still working (on a loaded machine the 4 s job may be over): it waits
            assert second == "queued" and app.snap.sessions[0].queued == 1
        await until(pilot, lambda: app.snap and [c.state for c in app.snap.ledger] == ["done", "done"], 30)
    rows = orch.ledger_rows(sid)
    assert rows[1].issued_at >= rows[0].done_at
    assert [e["text"] for e in orch.transcript(sid) if e["type"] == "prompt"] == [
        "slow job",
        "after the slow one",
    ]


async def test_kill_asks_first_and_asks_again_for_a_dirty_worktree(orch: Orch, ctx: Context) -> None:
    service = SessionService(ctx)
    clean = service.create(orch.repo, "scripted", "clean").id
    dirty = service.create(orch.repo, "scripted", "dirty", prompt="dirty it").id
    orch.wait_status(clean, "idle")
    wait_for(lambda: orch.ledger_rows(dirty) and orch.ledger_rows(dirty)[0].state == "done")
    app = OrchtuiApp(ctx, orch.repo)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.selected == clean)
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")  # cancel: nothing happens
        await pilot.pause(0.3)
        assert orch.status(clean) == "idle"
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")  # the focused button is Cancel: Enter never kills
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        await pilot.pause(0.3)
        assert orch.status(clean) == "idle"
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: orch.status(clean) == "killed")

        await pilot.press("down")
        await until(pilot, lambda: app.selected == dirty)
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        # refused for the uncommitted file: a second question says what would be lost
        await until(
            pilot, lambda: isinstance(app.screen, ConfirmScreen) and "uncommitted" in app.screen.question
        )
        assert "scratch.txt" in app.screen.question and "--force" not in app.screen.question
        assert orch.status(dirty) == "idle"
        await pilot.press("f")
        await until(pilot, lambda: orch.status(dirty) == "killed")
    info = orch.show(dirty)
    assert info["rescue_ref"] == f"refs/orchtui/rescue/{dirty}"


async def test_invalid_modal_input_shows_inline_error_and_creates_nothing(orch: Orch, ctx: Context) -> None:
    app = OrchtuiApp(ctx, orch.repo)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewSessionScreen))
        await type_text(pilot, "Bad Name")
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, NewSessionScreen)
        error = str(app.screen.query_one("#error", Static).render())
        assert "invalid task name" in error
        assert app.screen.query_one("#create", Button).disabled, "Create stays usable with a bad name"
        # a valid name but a base branch that does not exist: refused by git, shown inline
        task = app.screen.query_one("#task", Input)
        task.value = "good-name"
        await until(pilot, lambda: not app.screen.query_one("#create", Button).disabled)
        app.screen.query_one("#base", Input).value = "no-such-branch"
        await pilot.press("ctrl+s")
        await until(
            pilot,
            lambda: (
                isinstance(app.screen, NewSessionScreen)
                and "no-such-branch" in str(app.screen.query_one("#error", Static).render())
            ),
        )
        assert app.screen.query_one("#task", Input).value == "good-name"  # what was typed survives
    assert orch.json("session", "list", "--all") == []
    assert "orchtui/good-name" not in orch.repo.joinpath(".git", "refs", "heads").rglob("*").__repr__()


async def test_next_waiting_and_approve_from_the_dashboard(orch: Orch, ctx: Context) -> None:
    service = SessionService(ctx)
    first = service.create(orch.repo, "scripted", "first").id
    asker = service.create(orch.repo, "scripted", "asker", prompt="perm please").id
    orch.wait_status(first, "idle")
    orch.wait_status(asker, "waiting", timeout=30)
    app = OrchtuiApp(ctx, orch.repo)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.selected == first)
        await until(pilot, lambda: "waiting for you" in str(app.query_one("#notice", Static).render()))
        await pilot.press("w")
        await until(pilot, lambda: app.selected == asker)
        await pilot.press("a")
        await until(pilot, lambda: (s := session(app, "asker")) and s.status == "idle", 30)
    kinds = [(r.kind, r.state) for r in orch.ledger_rows(asker)]
    assert kinds == [("prompt", "done"), ("answer", "done")]


async def test_restart_key_brings_an_exited_agent_back_in_its_worktree(orch: Orch, ctx: Context) -> None:
    sid = SessionService(ctx).create(orch.repo, "scripted", "phoenix", prompt="quit now").id
    orch.wait_status(sid, "exited")
    app = OrchtuiApp(ctx, orch.repo)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.selected == sid)
        await pilot.press("R")
        await until(pilot, lambda: (s := session(app, "phoenix")) and s.status == "idle", 30)
    show = orch.show(sid)
    assert show["exit_code"] is None and show["worktree_state"] == "active"
    assert [e["kind"] for e in orch.json("events", sid)].count("session.restarted") == 1
    assert len(orch.ledger_rows(sid)) == 1  # the prompt it had already taken is not sent again


FLOOD = """
name = "flood"
[[rule]]
match = "^flood"
steps = [{ stream = 20000, interval = 0.002 }]
[[rule]]
match = ""
steps = [{ work = 0.2 }, { say = "Echo: {prompt}" }]
"""


async def test_switching_selection_fast_while_sessions_stream_never_crashes(
    orch: Orch, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """The live screen is built by one thread at a time: 30 s of moving the cursor over
    sessions that stream leaves the app running, with no internal-error notification,
    showing the selected session's own output."""
    scenario = tmp_path / "flood.toml"
    scenario.write_text(FLOOD)
    orch.env["ORCHTUI_SCRIPTED_SCENARIO"] = str(scenario)
    ctx = engine_context(orch, monkeypatch)
    service = SessionService(ctx)
    sids = [service.create(orch.repo, "scripted", f"flood-{i}", prompt="flood please").id for i in range(3)]
    for sid in sids:
        wait_for(lambda sid=sid: orch.status(sid) == "working", 60)
    app = OrchtuiApp(ctx, orch.repo)
    errors: list[str] = []
    real_notify = app.notify

    def notify(message: str, **kw) -> None:  # type: ignore[no-untyped-def]
        if kw.get("title") == "internal error":
            errors.append(message)
        real_notify(message, **kw)

    app.notify = notify  # type: ignore[method-assign]
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.snap and len(app.snap.sessions) == 3)
        end = asyncio.get_running_loop().time() + 30
        keys = 0
        while asyncio.get_running_loop().time() < end:
            await pilot.press("down" if keys % 6 < 3 else "up")
            keys += 1
            if keys % 5 == 0:
                await pilot.pause(0.2)  # now and then the cursor rests
        await until(pilot, lambda: app.settled, 30)
        await pilot.pause(0.3)
        await until(pilot, lambda: app.settled, 30)
        selected = app.selected
        assert selected in sids and app.is_running and not errors, errors
        shown = " ".join(t.plain for t in app.query_one("#screen")._lines)
        assert "streaming line" in shown, shown[-300:]
        assert selected in str(app.query_one("#screen-box").border_title)
    assert keys >= 6  # (as many as the machine allows in 30 s; this is no speed check)


async def test_an_untrusted_setup_command_is_asked_about_inline_then_runs(
    orch: Orch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repository's setup command never runs unasked: the form says what it would run;
    `n` leaves nothing behind, `t` trusts that exact file and creates the session."""
    (orch.repo / ".orchtui.toml").write_text('[worktrees]\nsetup_command = "touch setup-ran"\n')
    ctx = engine_context(orch, monkeypatch)
    app = OrchtuiApp(ctx, orch.repo)

    def error_text() -> str:
        return str(app.screen.query_one("#error", Static).render())

    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewSessionScreen))
        await type_text(pilot, "trusted-setup")
        for answer in ("n", "t"):
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            question = str(app.screen.query_one(".question", Static).render())
            assert "setup_command: touch setup-ran" in question and ".orchtui.toml" in question
            assert orch.json("session", "list") == []  # nothing made while it asks
            await pilot.press(answer)
            if answer == "n":
                await until(pilot, lambda: isinstance(app.screen, NewSessionScreen))
                assert "is not trusted" in error_text() and orch.json("session", "list") == []
                app.screen.query_one("#task", Input).focus()
        await until(pilot, lambda: (s := session(app, "trusted-setup")) and s.status == "idle")
    made = orch.json("session", "list")[0]
    assert (Path(made["worktree"]) / "setup-ran").exists()
    trusted = json.loads((orch.home / "trust.json").read_text())
    assert str((orch.repo / ".orchtui.toml").resolve()) in trusted


async def test_git_facts_are_read_for_the_worktrees_on_screen_and_show_when_the_tab_opens(
    orch: Orch, ctx: Context
) -> None:
    """Only the selected session's worktree is read while the Worktrees tab is hidden;
    opening the tab reads the rows it shows, and their facts appear there."""
    service = SessionService(ctx)
    ids = [service.create(orch.repo, "scripted", f"wt-{i}").id for i in range(3)]
    for sid in ids:
        orch.wait_status(sid, "idle")
    dirty = ctx.records.find_session(ids[2])
    worktree = ctx.records.worktrees()[dirty.worktree_id or 0].path if dirty else ""
    Path(worktree, "new.txt").write_text("x\n")
    app = OrchtuiApp(ctx, orch.repo)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.snap and len(app.snap.sessions) == 3 and app.settled, 30)
        facts = {v.id: v.git.dirty for v in app.snap.sessions} if app.snap else {}
        assert facts[app.selected or ""] == 0
        assert [d for sid, d in facts.items() if sid != app.selected] == [None, None]  # not read
        app.query_one(TabbedContent).active = "tab-worktrees"
        table = app.query_one(WorktreesTable)

        def dirty(sid: str) -> str | None:
            return str(table.get_cell(sid, "dirty")) if sid in {str(k.value) for k in table.rows} else None

        await until(pilot, lambda: dirty(ids[2]) == "1" and app.settled, 30)
        assert dirty(ids[0]) == "0"
        assert app.source.wanted == set(ids)
        # a scroll or resize noted as the app closes, its widgets already gone: no crash
        await app.query_one(TabbedContent).remove()
        app.post_message(WorktreesTable.Moved())
        await pilot.pause(0.2)
        assert app.source.wanted == set(ids)


async def test_the_first_frame_has_the_rows_and_a_slow_or_failing_first_read_is_not_waited_for(
    orch: Orch, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = SessionService(ctx).create(orch.repo, "scripted", "first").id
    orch.wait_status(sid, "idle")
    monkeypatch.setattr(app_module, "FIRST_READ", 60.0)  # (a busy machine: however long it takes)
    app = OrchtuiApp(ctx, orch.repo)
    async with app.run_test(size=(160, 45)):
        # read before the widgets were made, applied as they were mounted
        assert [str(k.value) for k in app.query_one(SessionsTable).rows] == [sid]
        assert app.refresh_count == 1

    real = DashboardSource.snapshot
    for trouble in ("slow", "failing"):
        calls: list[int] = []

        def snapshot(self: DashboardSource, *args, trouble=trouble, calls=calls):  # type: ignore[no-untyped-def]
            calls.append(1)
            if len(calls) == 1:
                if trouble == "failing":
                    raise RuntimeError("database is locked")
                time.sleep(1.5)
            return real(self, *args)

        monkeypatch.setattr(DashboardSource, "snapshot", snapshot)
        monkeypatch.setattr(app_module, "FIRST_READ", 0.1)
        app = OrchtuiApp(ctx, orch.repo)
        async with app.run_test(size=(160, 45)) as pilot:
            if trouble == "slow":
                assert app.snap is None  # drawn without waiting
            table = app.query_one(SessionsTable)
            await until(pilot, lambda table=table: [str(k.value) for k in table.rows] == [sid])
