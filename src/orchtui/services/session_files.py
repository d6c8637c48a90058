"""Where an agent session's files are: its worktree, its folder under the state
directory, its hook file; what a driver reads and writes for it."""

from __future__ import annotations

from pathlib import Path

from orchtui.drivers import SessionFiles
from orchtui.services.context import Context
from orchtui.store.tables import AgentSession


def session_files(ctx: Context, row: AgentSession) -> SessionFiles:
    state = ctx.config.state
    wt = ctx.records.worktree(row.worktree_id) if row.worktree_id else None
    return SessionFiles(
        session_id=row.id,
        worktree=Path(wt.path) if wt else Path.cwd(),
        session_dir=state.session_dir(row.id),
        hook_file=state.hook_file(row.id),
        started_at=row.created_at,
        home=Path.home(),
    )
