"""The skills screen: how it looks (snapshot), and vetting from it (Pilot)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from dashboard_helpers import until
from orchtui.services.context import Context
from orchtui.store.vetting import Vettings
from orchtui.ui.skills_screen import SkillsScreen
from test_dashboard_snapshots import loaded, make_app

COMMUNITY = (
    "---\nname: lint-fix\ndescription: Fix lint findings.\nversion: 0.3.1\ntrust: community\n---\n# Fix\n"
)


def project_skills(ctx: Context) -> Path:
    root = ctx.config.home.parent / "project" / ".orchtui" / "skills"
    (root / "lint-fix").mkdir(parents=True)
    (root / "lint-fix" / "SKILL.md").write_text(COMMUNITY)
    (root / "broken").mkdir()
    (root / "broken" / "SKILL.md").write_text("no front matter here\n")
    return root


async def open_skills(pilot: Pilot[Any]) -> SkillsScreen:
    await loaded(pilot)
    await pilot.press("S")
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, SkillsScreen) and app.screen.rows)
    await pilot.pause(0.2)
    assert isinstance(app.screen, SkillsScreen)
    return app.screen


def test_skills_screen_snapshot(world: Context, snap_compare: Any) -> None:
    project_skills(world)

    async def run_before(pilot: Pilot[Any]) -> None:
        screen = await open_skills(pilot)
        table = screen.query_one("#skills-table", DataTable)
        table.move_cursor(row=list(screen.rows).index("lint-fix"))
        await pilot.pause(0.2)

    assert snap_compare(make_app(world), terminal_size=(120, 30), run_before=run_before)


async def test_vetting_from_the_skills_screen(world: Context) -> None:
    project_skills(world)
    app = make_app(world)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await open_skills(pilot)
        assert screen.rows["lint-fix"].trust == "community"
        assert "broken/SKILL.md: no YAML front matter" in str(
            screen.query_one("#skill-problems", Static).render()
        )
        screen.query_one("#skills-table", DataTable).move_cursor(row=list(screen.rows).index("lint-fix"))
        await pilot.pause(0.1)
        await pilot.press("v")
        await until(pilot, lambda: screen.rows["lint-fix"].trust == "vetted")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, SkillsScreen))
    rows = Vettings(world.store).rows()
    assert [(r.name, r.version) for r in rows] == [("lint-fix", "0.3.1")] and len(rows[0].digest) == 64
