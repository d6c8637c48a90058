"""The hosts screen (`H`): how it looks (snapshot) and what it lists (Pilot): a live host,
one gone silent and one stopped cleanly, as of the dashboard's clock."""

from __future__ import annotations

import time
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from dashboard_helpers import until
from orchtui.services.context import Context
from orchtui.store.tables import Worker
from orchtui.ui.hosts_screen import HostsScreen
from orchtui.ui.widgets import ScreenView
from test_dashboard_snapshots import NOW, loaded, make_app


def register(ctx: Context) -> None:
    rows = [
        ("build-box", 3.0, None, 12, 40, 1.25, '["aider", "claude", "codex"]'),
        ("gpu-box", 95.0, None, 3, 8, 0.4, '["claude", "codex"]'),
        ("laptop", 400.0, NOW - 380.0, 0, 10, 0.0, '["claude"]'),
    ]
    for name, age, stopped, sessions, capacity, load, agents in rows:
        ctx.workers.beat(
            Worker(
                name=name,
                address=f"{name}.lan",
                pid=100,
                version="0.1.0",
                capacity=capacity,
                agents=agents,
                sessions=sessions,
                load=load,
                started_at=NOW - 3600,
                heartbeat_at=NOW - age,
                stopped_at=stopped,
                socket="orchtui-abc",
            )
        )


async def open_hosts(pilot: Pilot[Any]) -> HostsScreen:
    await loaded(pilot)
    await pilot.press("H")
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, HostsScreen) and app.screen.views)
    await pilot.pause(0.2)
    assert isinstance(app.screen, HostsScreen)
    return app.screen


def test_hosts_screen_snapshot(world: Context, snap_compare: Any) -> None:
    register(world)

    async def run_before(pilot: Pilot[Any]) -> None:
        await open_hosts(pilot)

    assert snap_compare(make_app(world), terminal_size=(120, 24), run_before=run_before)


async def test_the_hosts_screen_lists_live_silent_and_stopped_hosts(world: Context) -> None:
    register(world)
    app = make_app(world)
    async with app.run_test(size=(120, 24)) as pilot:
        screen = await open_hosts(pilot)
        assert [(v.name, v.state, v.heartbeat_age) for v in screen.views] == [
            ("build-box", "live", 3.0),
            ("gpu-box", "stale", 95.0),
            ("laptop", "stopped", 400.0),
        ]
        assert screen.query_one("#hosts-table", DataTable).row_count == 3
        note = str(screen.query_one("#hosts-note", Static).render())
        assert "3 hosts share this database" in note and "Silent: gpu-box" in note
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HostsScreen))


async def test_another_hosts_session_shows_the_screen_its_worker_publishes_while_watched(
    world: Context,
) -> None:
    """Selecting another host's session watches its screen (its worker publishes while
    watched) and shows each new publication; nothing of this host's tmux is read."""
    register(world)
    world.records.update_session("a1b2c3", host="build-box")
    app = make_app(world)
    async with app.run_test(size=(120, 30)) as pilot:

        def shown() -> str:
            return " ".join(t.plain for t in app.query_one(ScreenView)._lines)

        await until(pilot, lambda: app.selected == "a1b2c3" and "waiting for host build-box" in shown())
        watched = world.screens.get("a1b2c3")
        assert watched is not None and watched.host == "build-box" and watched.watched_until > time.time()
        world.screens.publish("a1b2c3", ["\x1b[1mremote hello\x1b[0m", "  second line"], 80, 24, (0, 2))
        await until(pilot, lambda: "remote hello" in shown() and "second line" in shown())
        hello = next(t for t in app.query_one(ScreenView)._lines if "remote hello" in t.plain)
        assert any("bold" in str(span.style) for span in hello.spans), "its colours come along"
        world.screens.publish("a1b2c3", ["remote, a moment later"], 80, 24, (0, 1))
        await until(pilot, lambda: "a moment later" in shown() and "remote hello" not in shown())
