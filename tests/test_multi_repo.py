"""A project over several repositories (`orchtui run --repos`): one run per repository,
a stage aimed at one of them, each merged; the dashboard groups sessions by repository."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import TabbedContent

from dashboard_helpers import until
from helpers import Orch, engine_context, git, init_repo, wait_for
from orchtui.ui.app import OrchtuiApp
from orchtui.ui.widgets import SessionsTable, WorktreesTable

SCENARIO = """
[[rule]]
match = "stage build"
steps = [{ write = "feature.txt", content = "feature\\n" }, { commit = "feat: the feature" }]

[[rule]]
match = "stage api-docs"
steps = [{ write = "API.md", content = "# API\\n" }, { commit = "docs: the api" }]
"""

PLAYBOOK = """
name: multi
stages:
  - id: build
    automation: fully_auto
    roles: [{role: implementer, agents: [scripted], prompt: "build it"}]
    gates: [{type: file_exists, path: feature.txt}]
  - id: api-docs
    automation: fully_auto
    repos: [api]
    roles: [{role: writer, agents: [scripted], prompt: "document it"}]
    gates: [{type: file_exists, path: API.md}]
  - id: merge
    automation: fully_auto
    merge: true
"""


@pytest.fixture
def two(orch: Orch, tmp_path: Path) -> tuple[Orch, Path, Path]:
    scenario = tmp_path / "multi.toml"
    scenario.write_text(SCENARIO)
    orch.env["ORCHTUI_SCRIPTED_SCENARIO"] = str(scenario)
    book = tmp_path / "multi.yaml"
    book.write_text(PLAYBOOK)
    return orch, init_repo(tmp_path / "api"), book


async def test_a_run_over_two_repositories(
    two: tuple[Orch, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    orch, api, book = two
    ids = orch.run("run", str(book), "--task", "multi", "--repos", str(api)).stdout.split()
    assert len(ids) == 2
    wait_for(lambda: [r["state"] for r in orch.json("runs")] == ["done", "done"], timeout=120, interval=0.3)
    assert (orch.repo / "feature.txt").exists() and not (orch.repo / "API.md").exists()
    assert (api / "feature.txt").exists() and (api / "API.md").exists()
    assert git(api, "log", "-1", "--format=%s", "main") == "feat: merge orchtui/multi"
    skipped = [e for e in orch.json("events") if e["kind"] == "stage.skipped"]
    assert [(e["data"]["run"], e["message"]) for e in skipped] == [
        (ids[0], f"run {ids[0]}: api-docs skipped in project (repos: api)")
    ]
    sessions = orch.json("session", "list", "--all")
    by_run = {i: sorted(s["role"] for s in sessions if s["run"] == i) for i in ids}
    assert by_run == {ids[0]: ["implementer"], ids[1]: ["implementer", "writer"]}

    # the dashboard groups the sessions under their repository
    ctx = engine_context(orch, monkeypatch)
    app = OrchtuiApp(ctx, orch.repo)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.snap is not None and len(app.snap.sessions) == 3)
        await pilot.pause(0.3)
        keys = [str(k.value) for k in app.query_one(SessionsTable).rows]
        repo_of = {s["id"]: ("api" if s["run"] == ids[1] else "project") for s in sessions}
        first = keys[0].removeprefix("repo:")
        assert keys[0].startswith("repo:") and keys.count(f"repo:{first}") == 1
        groups: dict[str, list[str]] = {}
        current = ""
        for key in keys:
            if key.startswith("repo:"):
                current = key.removeprefix("repo:")
            elif key.startswith("run:"):  # a run's header, in its repository's group
                assert key.removeprefix("run:") in ids
            else:
                groups.setdefault(current, []).append(key)
        assert {repo: sorted(sids) for repo, sids in groups.items()} == {
            repo: sorted(sid for sid, r in repo_of.items() if r == repo) for repo in ("api", "project")
        }
        app.query_one(TabbedContent).active = "tab-worktrees"  # filled only while shown
        await until(pilot, lambda: app.query_one(WorktreesTable).row_count > 0)
        assert next(str(k.value) for k in app.query_one(WorktreesTable).rows).startswith("repo:")
        assert app.selected is not None and not app.selected.startswith("repo:")


def test_a_stage_naming_an_unknown_repository_is_refused(two: tuple[Orch, Path, Path]) -> None:
    orch, api, book = two
    book.write_text(PLAYBOOK.replace("repos: [api]", "repos: [web]"))
    proc = orch.run("run", str(book), "--task", "nope", "--repos", str(api), check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"orchtui: error: {book}: stages.1.repos: no repository named 'web' in this run (api, project)"
    )
    missing = orch.run(
        "run", str(book), "--task", "nope", "--repos", str(api.parent / "nowhere"), check=False
    )
    assert missing.returncode == 2 and "not inside a git repository" in missing.stderr
    assert orch.json("runs") == []
