"""Cleaning up after a merge: archive a worktree (removed, branch kept) or delete it
(branch too). Either one that would lose work (uncommitted changes, commits not on the
target) is refused until confirmed, with what would be lost; confirmed losses are still
kept under rescue refs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from orchtui.domain import WorktreeState
from orchtui.errors import Refused, UsageError
from orchtui.runtime import git_merge
from orchtui.runtime.git import GitRepo
from orchtui.services import pane_logs
from orchtui.services.context import Context
from orchtui.services.events import emit
from orchtui.store.db import now
from orchtui.store.tables import Worktree


@dataclass
class Loss:
    uncommitted: list[str] = field(default_factory=list)  # porcelain lines
    unmerged: list[str] = field(default_factory=list)  # "sha subject" not on the target

    @property
    def empty(self) -> bool:
        return not self.uncommitted and not self.unmerged

    def describe(self, target: str) -> str:
        parts = []
        if self.uncommitted:
            names = ", ".join(line[3:] for line in self.uncommitted[:5]) + (
                " …" if len(self.uncommitted) > 5 else ""
            )
            parts.append(f"{len(self.uncommitted)} uncommitted change(s) ({names})")
        if self.unmerged:
            shown = "; ".join(self.unmerged[:3]) + (" …" if len(self.unmerged) > 3 else "")
            parts.append(f"{len(self.unmerged)} commit(s) not on {target} ({shown})")
        return " and ".join(parts)


@dataclass
class CleanupReport:
    worktree: str
    branch: str
    state: str
    rescue_refs: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "worktree": self.worktree,
            "branch": self.branch,
            "state": self.state,
            "rescue_refs": self.rescue_refs,
        }


class Cleanup:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def worktree_for(self, session_id: str) -> Worktree:
        session = self.ctx.records.session(session_id)
        if session.worktree_id is None:
            raise UsageError(f"session {session_id} has no worktree")
        return self.ctx.records.worktree(session.worktree_id)

    def loss(self, wt: Worktree, target: str | None = None) -> Loss:
        """What removing the worktree and its branch would lose (archiving keeps the commits
        reachable on the branch, but they are not merged: it asks too)."""
        repo = GitRepo(Path(self.ctx.records.project(wt.project_id).path))
        target = target or wt.base
        loss = Loss()
        if Path(wt.path).is_dir() and wt.state in (WorktreeState.ACTIVE, WorktreeState.KEPT):
            loss.uncommitted = GitRepo.dirty_files(Path(wt.path))
        if repo.branch_exists(wt.branch) and repo.branch_exists(target):
            landed = self.ctx.merges.landed_tip(wt.id or 0)
            if landed is None or landed != git_merge.tip(repo, wt.branch):
                loss.unmerged = git_merge.unmerged_commits(repo, wt.branch, target)
        return loss

    def _refuse_live(self, wt: Worktree) -> None:
        live = [s.id for s in self.ctx.records.sessions(live_only=True) if s.worktree_id == wt.id]
        if live:
            raise Refused(f"{wt.path}: session(s) {', '.join(live)} still run in it; kill them first")

    def _checked(self, session_id: str, confirmed: bool, deleting: bool) -> tuple[Worktree, Loss]:
        """The session's worktree and what removing it would lose; refused while an agent
        runs in it, and, unless confirmed, when anything would be lost."""
        wt = self.worktree_for(session_id)
        if wt.state == WorktreeState.DELETED or (not deleting and wt.state == WorktreeState.REMOVED):
            raise UsageError(f"worktree {wt.path} is already {wt.state}")
        self._refuse_live(wt)
        loss = self.loss(wt)
        if not loss.empty and not confirmed:
            raise Refused(
                f"deleting {wt.branch} would lose {loss.describe(wt.base)}; confirm with --yes "
                "(orchtui still keeps them under refs/orchtui/rescue/)"
                if deleting
                else f"archiving {wt.path} would leave {loss.describe(wt.base)}; the branch keeps its "
                "commits, uncommitted changes go to a rescue ref — confirm with --yes"
            )
        return wt, loss

    def archive(self, session_id: str, confirmed: bool = False) -> CleanupReport:
        """Remove the worktree, keep the branch."""
        wt, loss = self._checked(session_id, confirmed, deleting=False)
        report = CleanupReport(wt.path, wt.branch, WorktreeState.REMOVED)
        self._remove_worktree(wt, loss, report, session_id)
        self._record(wt, report)
        emit(
            self.ctx,
            "worktree.archived",
            f"archived {wt.path}; branch {wt.branch} kept",
            session_id=session_id,
        )
        return report

    def delete(self, session_id: str, confirmed: bool = False) -> CleanupReport:
        """Remove the worktree and its branch."""
        wt, loss = self._checked(session_id, confirmed, deleting=True)
        repo = GitRepo(Path(self.ctx.records.project(wt.project_id).path))
        report = CleanupReport(wt.path, wt.branch, WorktreeState.DELETED)
        self._remove_worktree(wt, loss, report, session_id)
        if repo.branch_exists(wt.branch):
            if loss.unmerged:
                ref = f"refs/orchtui/rescue/branch-{session_id}"
                repo.repo.git.update_ref(ref, git_merge.tip(repo, wt.branch))
                report.rescue_refs.append(ref)
            repo.repo.git.branch("-D", wt.branch)
        self._record(wt, report)
        emit(
            self.ctx,
            "worktree.deleted",
            f"deleted {wt.path} and branch {wt.branch}"
            + (f" (kept at {', '.join(report.rescue_refs)})" if report.rescue_refs else ""),
            severity="warning" if report.rescue_refs else "info",
            session_id=session_id,
        )
        return report

    def _record(self, wt: Worktree, report: CleanupReport) -> None:
        rescue = report.rescue_refs[0] if report.rescue_refs else None
        self.ctx.records.update_worktree(wt.id or 0, state=report.state, removed_at=now(), rescue_ref=rescue)
        for row in self.ctx.records.sessions():
            if row.worktree_id == wt.id:
                pane_logs.remove(self.ctx.config.state, row.id)

    def _remove_worktree(self, wt: Worktree, loss: Loss, report: CleanupReport, session_id: str) -> None:
        path = Path(wt.path)
        if not path.is_dir():
            return
        if loss.uncommitted:
            ref = f"refs/orchtui/rescue/{session_id}"
            GitRepo.rescue(path, ref)
            report.rescue_refs.append(ref)
        GitRepo(Path(self.ctx.records.project(wt.project_id).path)).remove_worktree(
            path, force=bool(loss.uncommitted)
        )
