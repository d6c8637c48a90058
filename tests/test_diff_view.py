"""The diff view: navigate files and hunks, and a hunk comment reaching the agent as a
prompt (Pilot, real engine, tmux and git); and how it looks (snapshot)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from dashboard_helpers import type_text, until
from helpers import Orch, engine_context, git, wait_for
from orchtui.services.context import Context
from orchtui.ui.app import OrchtuiApp
from orchtui.ui.diff import DiffScreen, hunks_of
from orchtui.ui.diff_widgets import FileList, StatusLine
from orchtui.ui.modals import PromptScreen
from test_dashboard_snapshots import loaded, make_app


@pytest.fixture
def ctx(orch: Orch, monkeypatch: pytest.MonkeyPatch) -> Context:
    return engine_context(orch, monkeypatch)


def status(app: OrchtuiApp) -> str:
    return app.screen.query_one(StatusLine).text


async def test_navigate_files_and_hunks_and_comment_on_a_hunk(orch: Orch, ctx: Context) -> None:
    lines = [f"line {i}" for i in range(1, 41)]
    (orch.repo / "long.txt").write_text("\n".join(lines) + "\n")
    git(orch.repo, "add", "long.txt")
    git(orch.repo, "commit", "-q", "-m", "long file")
    sid = orch.new("reviewed")
    wt = Path(orch.show(sid)["worktree"])
    changed = list(lines)
    changed[2], changed[35] = "line 3 changed", "line 36 changed"  # two hunks, far apart
    (wt / "long.txt").write_text("\n".join(changed) + "\n")
    (wt / "a_new.py").write_text("print('new')\n")
    git(wt, "add", "a_new.py")
    git(wt, "commit", "-q", "-m", "feat: a new file")
    (wt / "z_untracked.txt").write_text("fresh\n")
    orch.wait_status(sid, "idle")

    app = OrchtuiApp(ctx, orch.repo)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.selected == sid)
        await pilot.press("v", "up", "down", "n", "p")  # keys before the list arrived are harmless
        await until(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.loaded)
        screen = app.screen
        await pilot.press("left_square_bracket", "left_square_bracket")  # back to the first file
        assert isinstance(screen, DiffScreen)
        assert [(f.path, f.added, f.deleted, f.status) for f in screen.files] == [
            ("a_new.py", 1, 0, "added"),
            ("long.txt", 2, 2, "modified"),
            ("z_untracked.txt", 1, 0, "untracked"),
        ]
        assert [f.path for f in screen.query_one(FileList).files] == [f.path for f in screen.files]
        await until(pilot, lambda: screen.current == "a_new.py" and "hunk 1/1" in status(app))
        await pilot.press("right_square_bracket")  # next file
        await until(pilot, lambda: screen.current == "long.txt" and "hunk 1/2" in status(app))
        await pilot.press("n")
        await until(pilot, lambda: "hunk 2/2" in status(app))
        assert "line 36 changed" in screen.hunks[screen.hunk_index].text
        await pilot.press("n")  # past the last hunk: the next file's first
        await until(pilot, lambda: screen.current == "z_untracked.txt" and "hunk 1/1" in status(app))
        await pilot.press("p")  # back: the previous file's last hunk
        await until(pilot, lambda: screen.current == "long.txt" and "hunk 2/2" in status(app))
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await type_text(pilot, "keep the old wording here")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, DiffScreen))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DiffScreen))

    def delivered() -> list[dict[str, Any]]:
        return [e for e in orch.transcript(sid) if e["type"] == "prompt" and "Review comment" in e["text"]]

    got = wait_for(delivered, timeout=30)
    text = got[0]["text"]
    assert "Review comment on long.txt" in text and "+line 36 changed" in text
    assert "keep the old wording here" in text and "line 3 changed" not in text  # only that hunk
    wait_for(lambda: [r.state for r in orch.ledger_rows(sid) if r.kind == "prompt"] == ["done"], timeout=30)


def test_hunks_of_a_unified_diff() -> None:
    diff = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-a\n+b\n c\n@@ -9 +9 @@ ctx\n-y\n+z\n"
    hunks = hunks_of(diff)
    assert [(h.line, h.header) for h in hunks] == [(3, "@@ -1,2 +1,2 @@"), (7, "@@ -9 +9 @@ ctx")]
    assert hunks[1].text == "@@ -9 +9 @@ ctx\n-y\n+z"
    assert hunks_of("Binary files differ\n") == []


def test_diff_view_snapshot(world: Context, snap_compare: Any) -> None:
    async def open_diff(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("v")
        app = pilot.app
        await until(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.loaded)
        await until(pilot, lambda: "hunk 1/1" in status(app))  # type: ignore[arg-type]
        await pilot.pause(0.2)

    assert snap_compare(make_app(world), terminal_size=(120, 30), run_before=open_diff)
