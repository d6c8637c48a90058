"""What the dashboard shows (services/dashboard.py), on the real engine, git and SQLite."""

from __future__ import annotations

import time

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
