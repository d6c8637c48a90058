"""The race comparison (`c`): how it looks (snapshot, a stored race judged and waiting for
the operator) and picking from it (Pilot, a real race of scripted agents in tmux)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from dashboard_fixture import BASE
from dashboard_helpers import until
from helpers import Orch, engine_context, git, wait_for
from orchtui.services.context import Context
from orchtui.store.tables import GateResult, RaceEntry, Run
from orchtui.ui.app import OrchtuiApp
from orchtui.ui.diff import DiffScreen
from orchtui.ui.race_screen import RaceScreen
from test_dashboard_snapshots import loaded, make_app
from test_races import race_of, scored_race, the_run

RACE_BOOK = """\
name: race
stages:
  - id: build
    automation: fully_auto
    race: {count: 2, agents: [scripted, claude], pick: operator, weights: {score: 1.0}}
    roles: [{role: dev, agents: [scripted], prompt: "build {task}"}]
    gates:
      - {type: command, run: "cat score.txt", metrics: {score: 'score=(\\\\d+)'}}
      - {type: file_exists, path: test_greet.py}
"""


def stored_race(world: Context, tmp_path: Path) -> None:
    """A race of two entries, both judged, waiting for the operator: entry 1 passed with
    score 5, entry 2 failed a gate. Their agents are two sessions of the world."""
    book = tmp_path / "race.yaml"
    book.write_text(RACE_BOOK)
    project = world.records.sessions()[0].project_id
    world.runs.add(
        Run(
            id="ace001",
            project_id=project,
            playbook="race",
            playbook_path=str(book),
            task="race-demo",
            worktree_id=1,
            state="running",
            stage="build",
            attempt=1,
            detail="build: race judged; pick an entry",
            created_at=BASE,
            updated_at=BASE,
        )
    )
    world.runs.open_stage("ace001", "build", "running")
    for number, sid, wt, agent, state, score, seconds in (
        (1, "a1b2c3", 1, "scripted", "passed", 5.0, 42.0),
        (2, "d4e5f6", 2, "claude", "failed", None, 65.0),
    ):
        world.records.update_session(sid, run_id="ace001", role="dev")
        world.races.add(
            RaceEntry(
                run_id="ace001",
                stage="build",
                attempt=1,
                number=number,
                agent=agent,
                session_id=sid,
                worktree_id=wt,
                branch=world.records.worktree(wt).branch,
                state=state,
                score=score,
                metrics=json.dumps({"time_s": seconds} | ({"score": score} if score else {})),
                started_at=BASE,
                finished_at=BASE + seconds,
            )
        )
    gates = [
        (1, 0, "command", "pass", "`cat score.txt` exited 0", "score=5"),
        (1, 1, "file_exists", "pass", "test_greet.py exists", ""),
        (2, 0, "command", "pass", "`cat score.txt` exited 0", "score=2"),
        (2, 1, "file_exists", "fail", "no file matches test_greet.py", ""),
    ]
    for number, index, kind, state, why, evidence in gates:
        world.runs.record_gate(
            GateResult(
                run_id="ace001",
                stage="build",
                attempt=1,
                gate_index=index,
                type=kind,
                state=state,
                why=why,
                evidence=evidence,
                at=BASE + 70,
                entry=number,
            )
        )


async def open_race(pilot: Pilot[Any]) -> RaceScreen:
    await loaded(pilot)
    await pilot.press("c")
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, RaceScreen) and app.screen.view is not None)
    await pilot.pause(0.2)
    assert isinstance(app.screen, RaceScreen)
    return app.screen


def test_race_comparison_snapshot(world: Context, tmp_path: Path, snap_compare: Any) -> None:
    stored_race(world, tmp_path)

    async def run_before(pilot: Pilot[Any]) -> None:
        await open_race(pilot)

    assert snap_compare(make_app(world), terminal_size=(120, 30), run_before=run_before)


async def test_the_comparison_lists_each_entry_with_its_gates(world: Context, tmp_path: Path) -> None:
    stored_race(world, tmp_path)
    app = make_app(world)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await open_race(pilot)
        assert app.snap is not None  # the Cost tab's lines: each entry's spend and time
        assert app.snap.race == [
            "race build · entry 1 scripted: $0.0081 42s passed",
            "race build · entry 2 claude: $0.0254 65s failed",
        ]
        assert screen.view is not None and screen.view.awaiting_pick
        assert [(e.number, e.agent, e.state, e.score) for e in screen.view.entries] == [
            (1, "scripted", "passed", 5.0),
            (2, "claude", "failed", None),
        ]
        await pilot.press("down")
        await pilot.pause(0.1)
        shown = str(screen.query_one("#race-gates").render())
        assert "Entry 2 (claude)" in shown and "no file matches test_greet.py" in shown


async def test_pick_from_the_dashboard_and_the_run_moves_on_with_that_entry(
    orch: Orch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = scored_race(orch, tmp_path, "operator", "picked", (0.3, 0.5))
    ctx = engine_context(orch, monkeypatch)
    wait_for(lambda: race_of(orch, run_id).get("awaiting_pick"), timeout=120, interval=0.3)
    app = OrchtuiApp(ctx, orch.repo)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.snap is not None and app.snap.run is not None)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, RaceScreen) and app.screen.view is not None)
        screen = app.screen
        assert isinstance(screen, RaceScreen) and screen.view is not None
        assert screen.view.awaiting_pick and len(screen.view.entries) == 2
        await pilot.press("down")  # entry 2
        await pilot.press("enter")  # its diff
        await until(pilot, lambda: isinstance(app.screen, DiffScreen))
        assert isinstance(app.screen, DiffScreen) and app.screen.worktree.name.endswith("e2")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        await pilot.press("p")
        await until(pilot, lambda: the_run(orch, run_id)["state"] == "done", timeout=120)
    entries = {e["number"]: e for e in race_of(orch, run_id)["entries"]}
    assert entries[2]["result"] == "won" and entries[2]["picked"]
    assert git(orch.repo, "show", "orchtui/picked:score.txt").strip() == "score=9"
