"""Merging a worktree's branch into its target under the repository's policy, and the
conflict-resolution loop.

A merge is refused (with the rule) when the branch has uncommitted work, nothing to
merge, or a required check fails. A clean merge lands at once. A conflict leaves the
target untouched and opens a resolver worktree with the merge in progress; a resolver
agent (or the operator) works there. Each time the resolver finishes a turn, orchtui
verifies that no conflict is left and the required checks pass, then finishes the merge
and lands it onto the target's old tip; otherwise it tells the resolver what is left, up
to `git.resolver_attempts` turns. Aborting puts the resolver's state under a rescue ref
and leaves target and source as they were.
"""

from __future__ import annotations

import json
from pathlib import Path

from orchtui.config import policy_for
from orchtui.domain import CommandKind, CommandState, MergeState, WorktreeState
from orchtui.errors import OrchtuiError, Refused, UsageError
from orchtui.gitpolicy import GitPolicy
from orchtui.names import validate_branch, validate_task
from orchtui.runtime import git_merge
from orchtui.runtime.git import GitError, GitRepo
from orchtui.services.commits import CommitService, trailers
from orchtui.services.context import Context, project_slug
from orchtui.services.events import emit
from orchtui.services.gates import evaluate
from orchtui.services.run_text import skill_instructions
from orchtui.services.sessions import SessionService, operator
from orchtui.store.db import now
from orchtui.store.tables import Merge, Worktree

OPERATOR = "operator"


class MergeService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # starting ---------------------------------------------------------------
    def start(
        self,
        worktree_id: int,
        target: str | None = None,
        strategy: str | None = None,
        resolver: str | None = None,
        run_id: str | None = None,
        session_id: str | None = None,
        actor: str | None = None,
    ) -> Merge:
        ctx = self.ctx
        wt = ctx.records.worktree(worktree_id)
        project = ctx.records.project(wt.project_id)
        repo = GitRepo(Path(project.path))
        policy = policy_for(repo.root, checks=True)
        target = target or wt.base
        strategy = strategy or policy.merge_strategy
        if strategy not in ("merge", "squash", "rebase"):
            raise UsageError(f"--strategy: {strategy!r} is not merge, squash or rebase")
        if not repo.branch_exists(target):
            raise UsageError(f"target branch {target!r} does not exist in {repo.root}")
        if ctx.merges.open_for_worktree(worktree_id) is not None:
            raise Refused(f"{wt.branch} already has a merge in progress (orchtui merge list)")
        if wt.state in (WorktreeState.ACTIVE, WorktreeState.KEPT) and Path(wt.path).is_dir():
            dirty = GitRepo.dirty_files(Path(wt.path))
            if dirty:
                raise Refused(
                    f"merge refused: {wt.path} has {len(dirty)} uncommitted change(s); "
                    "commit them first (orchtui commit)"
                )
            self._checks(policy, Path(wt.path), f"{wt.branch}", {"branch": wt.branch, "base": target})
        elif policy.required_checks:
            raise Refused(f"merge refused: {wt.branch} has no worktree to run git.required_checks in")
        if not git_merge.unmerged_commits(repo, wt.branch, target):
            raise Refused(f"nothing to merge: every commit of {wt.branch} is already on {target}")
        if session_id is None:
            owners = [s for s in ctx.records.sessions() if s.worktree_id == worktree_id]
            session_id = owners[0].id if owners else None
        if session_id is not None and wt.state == WorktreeState.ACTIVE:
            CommitService(ctx).check_agent_commits(session_id)
        session = ctx.records.find_session(session_id) if session_id else None
        summary = f"merge {wt.branch}" if strategy == "merge" else (session.task if session else wt.branch)
        message = policy.message(summary, trailers(session) if session else {}, body="")
        landing = git_merge.land(repo, target, wt.branch, message, strategy)
        row = ctx.merges.add(
            Merge(
                project_id=wt.project_id,
                worktree_id=worktree_id,
                session_id=session_id,
                run_id=run_id,
                source=wt.branch,
                target=target,
                strategy=strategy,
                state=MergeState.MERGED if landing.commit else MergeState.RESOLVING,
                old_tip=landing.old_tip,
                source_tip=git_merge.tip(repo, wt.branch),
                conflicts=json.dumps(landing.conflicts),
                commit=landing.commit,
                created_at=now(),
                ended_at=now() if landing.commit else None,
            )
        )
        if landing.commit:
            self._landed(row, actor)
            return row
        emit(
            ctx,
            "merge.conflict",
            f"{wt.branch} conflicts with {target} in {', '.join(landing.conflicts)}; {target} untouched",
            severity="warning",
            session_id=session_id,
            merge=row.id,
            files=landing.conflicts,
        )
        return self._open_loop(row, repo, policy, resolver)

    def _checks(self, policy: GitPolicy, where: Path, what: str, values: dict[str, str]) -> None:
        """git.required_checks on `where`; `values` fill their placeholders, as data."""
        for gate in policy.required_checks:
            outcome = evaluate(gate, where, values=values)
            if outcome.state not in ("pass", "warn"):  # warn: a check the policy does not require
                raise Refused(f"merge refused: required check ({gate.type}) failed on {what}: {outcome.why}")

    def _open_loop(self, row: Merge, repo: GitRepo, policy: GitPolicy, resolver: str | None) -> Merge:
        ctx = self.ctx
        assert row.id is not None
        merge_id = row.id
        task = validate_task(f"resolve-{merge_id}")
        branch = validate_branch(
            f"{ctx.config.worktrees.branch_prefix}resolve/{row.id}-{row.source.split('/')[-1]}"
        )
        path = (ctx.config.worktree_root / project_slug(repo.root) / task).resolve()
        files = git_merge.open_resolution(repo, path, branch, row.target, row.source)
        wt = ctx.records.add_worktree(
            Worktree(
                project_id=row.project_id,
                path=str(path),
                branch=branch,
                base=row.target,
                state=WorktreeState.ACTIVE,
                created_at=now(),
            )
        )
        row = ctx.merges.update(
            merge_id, resolver_worktree_id=wt.id, conflicts=json.dumps(files or json.loads(row.conflicts))
        )
        who = resolver or policy.resolver or OPERATOR
        if who != OPERATOR:
            try:
                session = SessionService(ctx).join(wt.id or 0, who, task, role="resolver", run_id=row.run_id)
            except OrchtuiError as exc:
                emit(ctx, "merge.resolver", f"merge {row.id}: resolver not started: {exc}", severity="error")
                who = OPERATOR
            else:
                row = ctx.merges.update(merge_id, resolver_session_id=session.id)
                ctx.ledger.enqueue(
                    session.id, self.resolver_prompt(row), actor=f"merge:{row.id}", cause="resolve"
                )
        emit(
            ctx,
            "merge.resolving",
            f"merge {row.id}: {'the operator resolves' if who == OPERATOR else who + ' resolves'} "
            f"in {path} (orchtui merge continue {row.id} / abort {row.id})",
            severity="warning",
            session_id=row.session_id,
            merge=row.id,
            worktree=str(path),
        )
        return row

    def resolver_prompt(self, row: Merge, left: list[str] | None = None, why: str | None = None) -> str:
        files = json.loads(row.conflicts)
        head = (
            f"Merge {row.source} into {row.target}: conflicts in {', '.join(files)}.\n\n"
            + skill_instructions("resolve-conflict", Path(self.ctx.records.project(row.project_id).path))
        )
        if left is None and why is None:
            return head
        return (
            f"The merge of {row.source} into {row.target} is not finished: "
            + (f"conflict markers remain in {', '.join(left)}. " if left else "")
            + (f"{why}. " if why else "")
            + "Fix that, `git add` the files, and end with `CONFLICTS RESOLVED`."
        )

    # the loop ---------------------------------------------------------------
    def after_resolver_turn(self, session_id: str) -> Merge | None:
        """The resolver finished a turn (or ended): verify, and finish or ask again."""
        row = self.ctx.merges.by_resolver(session_id)
        if row is None or row.state != MergeState.RESOLVING:
            return None
        try:
            return self.verify(row.id or 0, by_agent=True)
        except OrchtuiError as exc:
            emit(
                self.ctx,
                "merge.unresolved",
                str(exc),
                severity="error",
                session_id=row.session_id,
                merge=row.id,
            )
            return row

    def verify(self, merge_id: int, by_agent: bool = False) -> Merge:
        ctx = self.ctx
        row = ctx.merges.get(merge_id)
        if row.state != MergeState.RESOLVING:
            raise Refused(f"merge {merge_id} is {row.state}")
        wt = ctx.records.worktree(row.resolver_worktree_id or 0)
        where = Path(wt.path)
        repo = GitRepo(Path(ctx.records.project(row.project_id).path))
        policy = policy_for(repo.root, checks=True)
        left = git_merge.markers_left(where, json.loads(row.conflicts))
        why = None
        if not left:
            try:
                self._checks(policy, where, "the resolved merge", {"branch": row.source, "base": row.target})
            except Refused as exc:
                why = str(exc).removeprefix("merge refused: ")
        if left or why:
            return self._not_yet(row, policy, left, why, by_agent)
        message = policy.message(
            f"merge {row.source}",
            trailers(ctx.records.session(row.session_id)) if row.session_id else {},
            body=f"Conflicts resolved in: {', '.join(json.loads(row.conflicts))}",
        )
        resolved = git_merge.conclude(where, message)
        if not (
            git_merge.contains(repo, resolved, row.old_tip)
            and git_merge.contains(repo, resolved, row.source_tip)
        ):
            return self._not_yet(
                row, policy, [], f"the resolved commit does not join {row.target} and {row.source}", by_agent
            )
        new = (
            resolved if row.strategy == "merge" else git_merge.squash_of(repo, resolved, row.old_tip, message)
        )
        try:
            git_merge.move_target(repo, row.target, row.old_tip, new)
        except GitError as exc:
            ctx.merges.update(merge_id, detail=str(exc))
            raise Refused(f"merge {merge_id}: {exc}; abort it and merge again") from None
        row = ctx.merges.update(merge_id, state=MergeState.MERGED, commit=new, ended_at=now(), detail=None)
        self._close_resolver(row)
        self._landed(row, None)
        return row

    def _not_yet(
        self, row: Merge, policy: GitPolicy, left: list[str], why: str | None, by_agent: bool
    ) -> Merge:
        ctx = self.ctx
        assert row.id is not None
        problem = (
            (f"conflicts left in {', '.join(left)}" if left else "")
            + ("; " if left and why else "")
            + (why or "")
        )
        attempts = row.attempts + (1 if by_agent else 0)
        row = ctx.merges.update(row.id, attempts=attempts, detail=problem)
        emit(
            ctx,
            "merge.unresolved",
            f"merge {row.id}: {problem}",
            severity="warning",
            session_id=row.session_id,
            merge=row.id,
        )
        live = row.resolver_session_id and ctx.records.session(row.resolver_session_id).ended_at is None
        if by_agent and live and attempts < policy.resolver_attempts:
            ctx.ledger.enqueue(
                row.resolver_session_id or "",
                self.resolver_prompt(row, left, why),
                actor=f"merge:{row.id}",
                cause=f"resolution attempt {attempts + 1}",
            )
        elif by_agent:
            emit(
                ctx,
                "merge.stuck",
                f"merge {row.id}: still unresolved after {attempts} turn(s); take over the resolver "
                f"or resolve in {ctx.records.worktree(row.resolver_worktree_id or 0).path}, then "
                f"`orchtui merge continue {row.id}` (or abort {row.id})",
                severity="error",
                session_id=row.session_id,
                merge=row.id,
            )
        if not by_agent:
            raise Refused(f"merge {row.id} is not resolved: {problem}")
        return row

    def abort(self, merge_id: int) -> Merge:
        ctx = self.ctx
        row = ctx.merges.get(merge_id)
        if row.state != MergeState.RESOLVING:
            raise Refused(f"merge {merge_id} is {row.state}; only a merge being resolved can be aborted")
        rescue = self._close_resolver(row, aborting=True)
        row = ctx.merges.update(
            merge_id,
            state=MergeState.ABORTED,
            ended_at=now(),
            detail=f"aborted; the resolver's work is kept at {rescue}" if rescue else "aborted",
        )
        emit(
            ctx,
            "merge.aborted",
            f"merge {merge_id} aborted; {row.target} and {row.source} are as they were",
            severity="warning",
            session_id=row.session_id,
            merge=merge_id,
            rescue_ref=rescue,
        )
        if row.run_id:
            ctx.wake_engine(f"merge {merge_id} aborted")
        return row

    def _close_resolver(self, row: Merge, aborting: bool = False) -> str | None:
        """Stop the resolver, remove its worktree (its state kept under a rescue ref when
        aborting with changes), and drop its branch only when it holds nothing new."""
        ctx = self.ctx
        if row.resolver_session_id:
            session = ctx.records.session(row.resolver_session_id)
            if session.ended_at is None:
                SessionService(ctx).stop(
                    session.id, f"merge {row.id} {'aborted' if aborting else 'finished'}"
                )
        if row.resolver_worktree_id is None:
            return None
        wt = ctx.records.worktree(row.resolver_worktree_id)
        where = Path(wt.path)
        repo = GitRepo(Path(ctx.records.project(row.project_id).path))
        rescue = None
        if where.is_dir():
            if aborting and (GitRepo.dirty_files(where) or git_merge.merge_in_progress(where)):
                rescue = f"refs/orchtui/rescue/merge-{row.id}"
                GitRepo.rescue(where, rescue)
            git_merge.abandon(where)
            repo.remove_worktree(where, force=True)
        state = WorktreeState.REMOVED
        if repo.branch_exists(wt.branch) and git_merge.is_merged(repo, wt.branch, row.target):
            repo.repo.git.branch("-D", wt.branch)  # at (or behind) the target: holds nothing new
            state = WorktreeState.DELETED
        ctx.records.update_worktree(wt.id or 0, state=state, removed_at=now(), rescue_ref=rescue)
        return rescue

    def _landed(self, row: Merge, actor: str | None) -> None:
        ctx = self.ctx
        text = f"{row.source} → {row.target} ({row.strategy}) as {(row.commit or '')[:10]}"
        if row.session_id:
            ctx.ledger.record(
                row.session_id,
                CommandKind.MERGE,
                text,
                CommandState.DONE,
                actor or operator(),
                "merged by orchtui",
            )
        emit(ctx, "git.merged", f"merged {text}", session_id=row.session_id, merge=row.id, commit=row.commit)
        if row.run_id:
            ctx.wake_engine(f"merge {row.id} landed")
