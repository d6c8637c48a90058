"""Approvals asked for by a program (an MCP client such as a supervising agent): it may
ask, never answer. A request about a session shows a person the branch, its tip and its
change; an approval counts for a merge into a protected branch only while that branch is
still at the tip it showed (anything committed later needs a new approval)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orchtui.config import policy_for
from orchtui.domain import ApprovalState
from orchtui.errors import NotFound, Refused, UsageError
from orchtui.runtime.git import GitRepo
from orchtui.runtime.git_merge import tip
from orchtui.services import waiting
from orchtui.services.context import Context
from orchtui.services.events import emit
from orchtui.services.worktree_diff import WorktreeDiff
from orchtui.store.tables import Approval

PROPOSAL_LIMIT = 4000  # characters of a proposal kept


def request(ctx: Context, about: str, stage: str, proposal: str, asker: str) -> Approval:
    """A pending approval about a run (its id) or a session (its id), asked for by `asker`.
    Asked again with the same proposal while one waits (or was given for the same tip):
    that one, so asking twice never makes a person answer twice."""
    proposal = proposal.strip()[:PROPOSAL_LIMIT]
    if not proposal:
        raise UsageError("proposal: say what a person is asked to approve")
    if not stage.strip():
        raise UsageError("stage: name the stage or step it is about (e.g. merge)")
    run = ctx.runs.find(about)
    if run is not None:
        row = ctx.runs.request_approval(
            run.id,
            stage,
            f"requested by {asker}",
            {"proposal": proposal, "requested_by": asker, "run": run.id, "task": run.task},
            again=True,
        )
        _announce(ctx, row, f"run {run.id}")
        return row
    session = ctx.records.find_session(about)
    if session is None:
        raise NotFound(f"run: no run or session {about!r}")
    shown = _session_facts(ctx, about) | {"proposal": proposal, "requested_by": asker}
    for row in ctx.runs.session_approvals(about, stage):
        if row.state != ApprovalState.REJECTED:
            earlier = json.loads(row.shown)
            if earlier.get("proposal") == proposal and earlier.get("head") == shown["head"]:
                return row
    row = ctx.runs.request_session_approval(about, stage, shown, asker)
    _announce(ctx, row, f"session {about}")
    return row


def _announce(ctx: Context, row: Approval, about: str) -> None:
    if row.state == ApprovalState.PENDING:
        emit(
            ctx,
            "approval.requested",
            f"approval #{row.id} waits for a person: {about} {row.stage} ({row.action})",
            "notice",
            session_id=row.session_id,
            run=row.run_id,
            approval=row.id,
        )


def _session_facts(ctx: Context, session_id: str) -> dict[str, Any]:
    """The branch, its tip, the base it merges into and its change, for the person asked."""
    session = ctx.records.session(session_id)
    if session.worktree_id is None:
        return {"session": session_id, "branch": None, "head": None, "target": None, "diff": ""}
    wt = ctx.records.worktree(session.worktree_id)
    repo = GitRepo(Path(ctx.records.project(wt.project_id).path))
    files = WorktreeDiff(Path(wt.path), wt.base).files() if Path(wt.path).is_dir() else []
    added, deleted = sum(f.added for f in files), sum(f.deleted for f in files)
    return {
        "session": session_id,
        "task": session.task,
        "branch": wt.branch,
        "head": tip(repo, wt.branch),
        "target": wt.base,
        "diff": f"{len(files)} file(s) changed, +{added} -{deleted}",
    }


def wait_decided(ctx: Context, approval_id: int, seconds: float) -> Approval:
    """The approval once a person decided it, or as it is after `seconds` (woken by the
    store's changes, as `orchtui wait` is)."""

    def decided() -> Approval | None:
        row = ctx.runs.approval(approval_id)
        return None if row.state == ApprovalState.PENDING else row

    return waiting.until(ctx, decided, max(0.0, min(seconds, 3600.0))) or ctx.runs.approval(approval_id)


def require_for_merge(ctx: Context, session_id: str, target: str, asker: str) -> Approval | None:
    """A program merging into a protected branch needs a person's approval of this session's
    merge that showed the branch at its present tip (None: the target is not protected)."""
    session = ctx.records.session(session_id)
    if session.worktree_id is None:
        raise UsageError(f"session {session_id} has no worktree")
    wt = ctx.records.worktree(session.worktree_id)
    repo_root = Path(ctx.records.project(wt.project_id).path)
    if not policy_for(repo_root).is_protected(target):
        return None
    head = tip(GitRepo(repo_root), wt.branch)
    for row in ctx.runs.session_approvals(session_id, "merge"):
        if row.state == ApprovalState.APPROVED and json.loads(row.shown).get("head") == head:
            return row
    raise Refused(
        f"merge refused: {target} is protected (git.protected) and no person approved merging "
        f"{wt.branch} at {head[:10]}; {asker} may ask with request_stage_approval "
        f"(run={session_id!r}, stage='merge') and a person answers it"
    )
