"""Calling the operator: news is grouped and rate-limited (services/notify.py); the
dashboard rings and notifies through its terminal (ui/calls.py)."""

from __future__ import annotations

import time
from pathlib import Path

from libtmux import Server

from dashboard_fixture import BASE, NOW
from dashboard_helpers import until
from helpers import Orch, pane_text, run_in_terminal, wait_for
from orchtui.config import NotifyConfig
from orchtui.services.context import Context
from orchtui.services.notify import News, Notifier, news_of, osc
from orchtui.store.tables import AgentSession
from orchtui.ui.app import OrchtuiApp


def test_twenty_errors_within_a_second_are_one_notification() -> None:
    notifier = Notifier(NotifyConfig(group_seconds=1.0, min_interval=10.0))
    for i in range(20):
        notifier.add(News("error", f"s{i:02d} claude task{i}"), 100.0 + i * 0.04)
    assert notifier.due(100.5) is None  # still gathering
    call = notifier.due(101.0)
    assert call is not None and call.count == 20
    assert call.title == "orchtui: 20 need you" and call.body.startswith("20 failed: s00, s01")
    assert notifier.due(101.1) is None


def test_news_during_the_quiet_interval_waits_and_is_grouped() -> None:
    notifier = Notifier(NotifyConfig(group_seconds=0.5, min_interval=10.0))
    notifier.add(News("waiting", "a1 claude x"), 0.0)
    first = notifier.due(0.5)
    assert first is not None and first.title == "orchtui: a1 waiting for you"
    notifier.add(News("error", "b2 codex y"), 1.0)
    notifier.add(News("waiting", "c3 aider z"), 3.0)
    assert notifier.due(5.0) is None and notifier.next_due(5.0) == 5.5
    second = notifier.due(10.5)
    assert second is not None and second.count == 2 and "1 failed" in second.body


def test_kinds_not_asked_for_are_not_called() -> None:
    notifier = Notifier(NotifyConfig(kinds=["approval"], group_seconds=0.0))
    notifier.add(News("waiting", "a1 claude x"), 0.0)
    assert notifier.next_due(0.0) is None


def test_what_counts_as_news() -> None:
    assert news_of("working", "waiting", None, "a") == News("waiting", "a")
    assert news_of("working", "error", None, "a") == News("error", "a")
    assert news_of("idle", "exited", 1, "a") == News("exited", "a")
    assert news_of("idle", "lost", None, "a") == News("exited", "a")
    assert news_of("idle", "exited", 0, "a") is None  # ended by itself, fine
    assert news_of("idle", "killed", None, "a") is None  # orchtui stopped it
    assert news_of("waiting", "waiting", None, "a") is None
    assert news_of(None, "waiting", None, "a") is None  # first seen: already so


def test_a_hostile_name_cannot_end_the_sequence_or_start_another() -> None:
    from orchtui.services.notify import Call

    out = osc(Call("orchtui: x", "evil\x1b]2;pwned\x07\x1b\\;name", 1), inside_tmux=False)
    assert out.count("\x1b") == 4  # two OSCs, each opened and closed: nothing from the name
    assert "\x07" not in out
    wrapped = osc(Call("t", "b", 1), inside_tmux=True)
    assert wrapped.startswith("\x1bPtmux;\x1b\x1b]9;") and wrapped.count("\x1bPtmux;") == 2


async def test_the_dashboard_calls_once_for_twenty_agents_failing_together(world: Context) -> None:
    records = world.records
    project = records.sessions()[0].project_id
    for i in range(20):
        records.add_session(
            AgentSession(
                id=f"e{i:05d}",
                project_id=project,
                agent="claude",
                task=f"job-{i}",
                status="working",
                created_at=BASE,
                updated_at=BASE,
                status_at=BASE,
            )
        )
    world.config.notify = NotifyConfig(group_seconds=1.0, min_interval=30.0)
    app = OrchtuiApp(world, world.config.home.parent / "project", start_engine=False, clock=lambda: NOW)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.snap is not None and len(app.snap.sessions) == 24)
        started = time.monotonic()
        for i in range(20):
            records.update_session(f"e{i:05d}", status="error", status_detail="API error 500")
        assert time.monotonic() - started < 1.0
        await until(pilot, lambda: app.caller.calls)
        await pilot.pause(2.0)  # nothing more comes
        assert len(app.caller.calls) == 1, app.caller.calls
        assert app.caller.calls[0].count == 20 and "20 failed" in app.caller.calls[0].body


def test_a_waiting_agent_rings_and_notifies_exactly_once(
    orch: Orch, terminal: Server, tmp_path: Path
) -> None:
    """Read from the terminal's own output (what the dashboard wrote to its pty): one
    OSC 9, one OSC 777 and one bell for an agent that starts waiting, and the count in
    the terminal's title."""
    sid = orch.new("asks")
    orch.wait_status(sid, "idle")
    run_in_terminal(terminal, orch)
    wait_for(lambda: sid in pane_text(terminal) and "Sessions" in pane_text(terminal), timeout=30)
    raw = tmp_path / "terminal.out"
    terminal.cmd("pipe-pane", "-t", "term", "-o", f"cat >> {raw}")
    time.sleep(1.0)  # the dashboard has drawn; from here on, what it writes is captured
    orch.run("session", "send", sid, "perm please")
    orch.wait_status(sid, "waiting", timeout=30)
    wait_for(lambda: raw.exists() and b"\x1b]9;" in raw.read_bytes(), timeout=30)
    time.sleep(3.0)  # grouped and rate-limited: nothing more follows
    out = raw.read_bytes()
    assert out.count(b"\x1b]9;") == 1 and out.count(b"\x1b]777;notify;") == 1, out[-2000:]
    assert out.count(b"\x07") == 1  # the bell (the OSCs end with ST, not BEL)
    notice = out[out.index(b"\x1b]9;") :].split(b"\x1b\\")[0].decode()
    assert sid in notice and "waiting for you" in notice
    assert b"\x1b]2;orchtui \xc2\xb7 1 waiting\x1b\\" in out
    # the engine puts the count in orchtui's own tmux status line (seen while taken over)
    shown = lambda: " ".join(orch.server.cmd("show-options", "-gqv", "@orchtui_waiting").stdout)  # noqa: E731
    wait_for(lambda: shown() == " · 1 waiting", timeout=10)
    assert "#{@orchtui_waiting}" in " ".join(orch.server.cmd("show-options", "-gv", "status-right").stdout)
    terminal.cmd("send-keys", "-t", "term", "q")
