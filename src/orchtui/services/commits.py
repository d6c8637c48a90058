"""orchtui's own commits of a session's worktree, and the policy check of the commits
agents made by themselves (reported; reworded when `git.amend_agent_commits` is on)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from orchtui.config import policy_for
from orchtui.domain import CommandKind, CommandState, WorktreeState
from orchtui.errors import Refused, UsageError
from orchtui.gitpolicy import GitPolicy
from orchtui.runtime.git_changes import AgentCommit, FileChange, commit_all, commits_since, reword
from orchtui.services.context import Context
from orchtui.services.events import emit
from orchtui.store.tables import AgentSession, Worktree


@dataclass
class CommitResult:
    sha: str
    subject: str
    files: list[FileChange]
    agent_violations: list[str] = field(default_factory=list)  # "sha: broken rule"
    reworded: dict[str, str] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        added = sum(f.added for f in self.files)
        deleted = sum(f.deleted for f in self.files)
        return f"{len(self.files)} file(s), +{added} -{deleted}"

    def as_dict(self) -> dict[str, object]:
        return {
            "commit": self.sha,
            "subject": self.subject,
            "files": [f.as_dict() for f in self.files],
            "summary": self.summary,
            "agent_violations": self.agent_violations,
            "reworded": self.reworded,
        }


def trailers(session: AgentSession, stage: str | None = None) -> dict[str, str]:
    return {
        "Orchtui-Task": session.task,
        "Orchtui-Stage": stage or "",
        "Orchtui-Agent": session.agent,
        "Orchtui-Run": session.run_id or "",
        "Orchtui-Session": session.id,
    }


def agent_commit_problems(policy: GitPolicy, commits: list[AgentCommit]) -> list[tuple[AgentCommit, str]]:
    """Commits orchtui did not make whose message breaks the policy."""
    found = []
    for c in commits:
        if "\nOrchtui-Session: " in f"\n{c.message}":
            continue
        problem = policy.message_problem(c.message)
        if problem:
            found.append((c, problem))
    return found


class CommitService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def worktree_of(self, session_id: str) -> tuple[AgentSession, Worktree, Path]:
        session = self.ctx.records.session(session_id)
        if session.worktree_id is None:
            raise UsageError(f"session {session_id} has no worktree")
        wt = self.ctx.records.worktree(session.worktree_id)
        if wt.state not in (WorktreeState.ACTIVE, WorktreeState.KEPT) or not Path(wt.path).is_dir():
            raise UsageError(f"session {session_id}: its worktree {wt.path} is {wt.state}")
        return session, wt, Path(wt.path)

    def policy(self, session: AgentSession) -> GitPolicy:
        return policy_for(Path(self.ctx.records.project(session.project_id).path))

    def check_agent_commits(
        self, session_id: str, amend: bool | None = None
    ) -> tuple[list[str], dict[str, str]]:
        """The session's own commits that break the policy ("sha: rule"), each reported once
        as a `git.policy` event; reworded (trees kept) when amending."""
        session, wt, path = self.worktree_of(session_id)
        policy = self.policy(session)
        problems = agent_commit_problems(policy, commits_since(path, wt.base))
        reported = {e.data for e in self.ctx.records.events(session_id, kind="git.policy")}
        for c, why in problems:
            if not any(c.sha in data for data in reported):
                emit(
                    self.ctx,
                    "git.policy",
                    f"agent commit {c.sha[:10]}: {why}",
                    severity="warning",
                    session_id=session_id,
                    commit=c.sha,
                )
        reworded: dict[str, str] = {}
        if problems and (policy.amend_agent_commits if amend is None else amend):
            bad = {c.sha for c, _ in problems}
            reworded = reword(
                path,
                wt.base,
                lambda c: self._reworded(policy, session, c) if c.sha in bad else None,
            )
            emit(
                self.ctx,
                "git.reworded",
                f"reworded {len(reworded)} agent commit(s) to the policy",
                session_id=session_id,
                reworded=reworded,
            )
        return [f"{c.sha[:10]}: {why}" for c, why in problems], reworded

    @staticmethod
    def _reworded(policy: GitPolicy, session: AgentSession, c: AgentCommit) -> str:
        body = "\n".join(c.message.splitlines()[1:]).strip()
        tags = {**trailers(session), "Orchtui-Session": ""}  # not orchtui's commit: no session trailer
        return policy.message(c.subject, tags, kind=None, body=body)

    def commit(
        self,
        session_id: str,
        summary: str,
        kind: str | None = None,
        stage: str | None = None,
        actor: str = "operator",
    ) -> CommitResult:
        session, wt, path = self.worktree_of(session_id)
        policy = self.policy(session)
        problem = policy.branch_problem(wt.branch)
        if problem:
            raise Refused(f"session {session_id}: {problem}")
        if not summary.strip():
            raise UsageError("the commit summary is empty")
        message = policy.message(summary, trailers(session, stage), kind=kind)
        problem = policy.message_problem(message)
        if problem:
            raise Refused(f"commit refused: {problem}")
        violations, reworded = self.check_agent_commits(session_id)
        sha, files = commit_all(path, message)
        result = CommitResult(sha, message.splitlines()[0], files, violations, reworded)
        self.ctx.ledger.record(
            session_id,
            CommandKind.COMMIT,
            f"{sha[:10]} {result.subject} ({result.summary})",
            CommandState.DONE,
            actor,
            "committed by orchtui",
        )
        emit(
            self.ctx,
            "git.commit",
            f"committed {sha[:10]}: {result.subject} ({result.summary})",
            session_id=session_id,
            commit=sha,
            files=[f.path for f in files],
        )
        return result
