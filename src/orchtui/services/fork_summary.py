"""The first prompt of a fork whose agent cannot copy a conversation: what the session it
was forked from was asked and has committed, said plainly, so the new conversation
starts from the same place."""

from __future__ import annotations

from pathlib import Path

from orchtui.domain import CommandKind
from orchtui.runtime.git import GitRepo
from orchtui.services.context import Context
from orchtui.store.tables import AgentSession, Worktree

MAX_PROMPTS = 8
MAX_CHARS = 400


def fork_summary(ctx: Context, source: AgentSession, wt: Worktree) -> str:
    prompts = [c.text for c in ctx.ledger.rows(source.id) if c.kind == CommandKind.PROMPT][-MAX_PROMPTS:]
    lines = [
        f"This session is a fork of session {source.id} ({source.agent}, task {source.task}). "
        f"Its conversation could not be copied, so this summary stands in for it. "
        f"Your branch starts from its branch {wt.branch} as committed.",
        "",
        "What it was asked, oldest first:" if prompts else "It was asked nothing yet.",
    ]
    for i, text in enumerate(prompts, 1):
        short = text if len(text) <= MAX_CHARS else text[:MAX_CHARS] + " …"
        lines.append(f"{i}. {short}")
    commits = GitRepo(Path(wt.path)).commits_between(wt.base, wt.branch)
    lines += ["", "Its commits, newest first:" if commits else "It had committed nothing yet."]
    lines += commits
    dirty = GitRepo.dirty_files(Path(wt.path))
    if dirty:
        lines += ["", f"Uncommitted changes in its worktree were not carried over ({len(dirty)} file(s))."]
    lines += ["", "Read the code as it is now and continue from there."]
    return "\n".join(lines)
