"""What the dashboard shows (services/dashboard.py), on the real engine, git and SQLite."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from helpers import Orch, engine_context, wait_for
from orchtui.services import dashboard
from orchtui.services.dashboard import DashboardSource
from orchtui.services.sessions import SessionService


def test_a_snapshot_never_waits_for_git_and_idle_worktrees_are_not_read_again(
    orch: Orch, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = engine_context(orch, monkeypatch)
    service = SessionService(ctx)
    quiet = service.create(orch.repo, "scripted", "quiet").id
    busy = service.create(orch.repo, "scripted", "busy").id
    orch.wait_status(quiet, "idle")
    orch.wait_status(busy, "idle")
    source = DashboardSource(ctx)

    first = source.snapshot(busy)
    assert all(v.git.dirty is None for v in first.sessions)  # nothing read yet: the rows come first
    assert [path for path, _b, _base in source.stale] == [
        first.selected.worktree if first.selected else None,
        next(v.worktree for v in first.sessions if v.id == quiet),
    ]  # the selected worktree is read first
    assert source.unread
    while source.stale:
        source.read_git(limit=1)
    facts = {v.id: v.git for v in source.snapshot(busy).sessions}
    assert facts[quiet].dirty == 0 and facts[quiet].ahead == 0 and not source.unread

    monkeypatch.setattr(dashboard, "GIT_TTL", 0.0)
    time.sleep(0.05)
    paths = {v.id: v.worktree for v in first.sessions}
    source.snapshot(quiet)  # an idle worktree is read again only while it is selected
    assert [path for path, _b, _base in source.stale] == [paths[quiet]]

    orch.run("session", "send", busy, "dirty it")  # writes scratch.txt, uncommitted
    wait_for(lambda: orch.ledger_rows(busy)[0].state == "done", 60)
    source.snapshot(quiet)
    assert paths[busy] in [path for path, _b, _base in source.stale]  # its agent was active
    while source.stale:
        source.read_git()
    after = {v.id: v.git for v in source.snapshot(quiet).sessions}
    assert after[busy].dirty == 1 and after[quiet].dirty == 0


def test_only_the_facts_looked_at_are_read_and_they_show_without_a_new_snapshot(
    orch: Orch, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = engine_context(orch, monkeypatch)
    service = SessionService(ctx)
    ids = [service.create(orch.repo, "scripted", f"t{i}").id for i in range(3)]
    for sid in ids:
        orch.wait_status(sid, "idle")
    source = DashboardSource(ctx)
    source.wanted = set()  # the Worktrees tab is not shown: only the selected session's facts
    snap = source.snapshot(ids[1])
    paths = {v.id: v.worktree for v in snap.sessions}
    assert [path for path, _b, _base in source.stale] == [paths[ids[1]]]

    source.wanted = {ids[2]}  # its row came into view
    snap = source.with_git(snap)
    assert [path for path, _b, _base in source.stale] == [paths[ids[1]], paths[ids[2]]]
    Path(paths[ids[2]] or "", "new.txt").write_text("x\n")  # uncommitted in the wanted one
    while source.stale:
        source.read_git()
    shown = source.with_git(snap)  # no store read: the facts are the cache's
    facts = {v.id: v.git for v in shown.sessions}
    assert facts[ids[2]].dirty == 1 and facts[ids[1]].dirty == 0
    assert facts[ids[0]].dirty is None  # never looked at: never read
    assert shown.selected is not None and shown.selected.git.dirty == 0
    assert any(c.name == "work committed" and c.state == "pass" for c in shown.checks)
    assert not source.stale and not source.unread
