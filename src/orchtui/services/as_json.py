"""The JSON shape of each stored row, one per kind, shared by the CLI's `--json`, the MCP
server and the web API (so a script, an agent and a browser read the same fields)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from orchtui.services.why import status_source
from orchtui.store.ledger import Ledger
from orchtui.store.records import Records
from orchtui.store.runs import Runs
from orchtui.store.tables import AgentSession, Approval, Command, Event, Merge, Run, Worktree


def iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds") if ts is not None else None


def session_json(
    records: Records, row: AgentSession, worktrees: dict[int, Worktree] | None = None
) -> dict[str, Any]:
    """`worktrees`: every worktree by id, read once for a list (else this row's is read)."""
    if worktrees is not None:
        wt = worktrees.get(row.worktree_id) if row.worktree_id else None
    else:
        wt = records.worktree(row.worktree_id) if row.worktree_id else None
    return {
        "id": row.id,
        "agent": row.agent,
        "task": row.task,
        "role": row.role,
        "run": row.run_id,
        "status": row.status,
        "status_detail": row.status_detail,
        "status_source": status_source(row.status_detail),
        "exit_code": row.exit_code,
        "branch": wt.branch if wt else None,
        "base": wt.base if wt else None,
        "worktree": wt.path if wt else None,
        "worktree_state": wt.state if wt else None,
        "rescue_ref": wt.rescue_ref if wt else None,
        "tmux_session": row.tmux_session,
        "tmux_window": row.tmux_window,
        "tmux_pane": row.tmux_pane,
        "conversation_id": row.conversation_id,
        "taken_over": row.taken_over,
        "created_at": iso(row.created_at),
        "status_at": iso(row.status_at),
        "ended_at": iso(row.ended_at),
        "archived_at": iso(row.archived_at),
        "host": row.host,
    }


def session_detail_json(records: Records, ledger: Ledger, row: AgentSession) -> dict[str, Any]:
    """A session with its whole ledger."""
    return session_json(records, row) | {"ledger": [command_json(ledger, c) for c in ledger.rows(row.id)]}


def command_json(ledger: Ledger, cmd: Command) -> dict[str, Any]:
    return {
        "id": cmd.id,
        "session": cmd.session_id,
        "kind": cmd.kind,
        "text": cmd.text,
        "state": cmd.state,
        "actor": cmd.actor,
        "attempts": cmd.attempts,
        "error": cmd.error,
        "queued_at": iso(cmd.queued_at),
        "issued_at": iso(cmd.issued_at),
        "delivered_at": iso(cmd.delivered_at),
        "running_at": iso(cmd.running_at),
        "done_at": iso(cmd.done_at),
        "failed_at": iso(cmd.failed_at),
        "cancelled_at": iso(cmd.cancelled_at),
        "transitions": [
            {"state": t.state, "at": iso(t.at), "cause": t.cause} for t in ledger.transitions(cmd.id or 0)
        ],
    }


def merge_json(row: Merge) -> dict[str, Any]:
    return {
        "id": row.id,
        "state": row.state,
        "source": row.source,
        "target": row.target,
        "strategy": row.strategy,
        "session": row.session_id,
        "run": row.run_id,
        "conflicts": json.loads(row.conflicts),
        "resolver_session": row.resolver_session_id,
        "attempts": row.attempts,
        "commit": row.commit,
        "detail": row.detail,
        "created_at": iso(row.created_at),
        "ended_at": iso(row.ended_at),
    }


def approval_json(row: Approval) -> dict[str, Any]:
    return {
        "id": row.id,
        "run": row.run_id,
        "session": row.session_id,
        "stage": row.stage,
        "action": row.action,
        "state": row.state,
        "who": row.who,
        "reason": row.reason,
        "created_at": iso(row.created_at),
        "decided_at": iso(row.decided_at),
        "shown": json.loads(row.shown),
    }


def run_json(runs: Runs, row: Run) -> dict[str, Any]:
    return {
        "id": row.id,
        "playbook": row.playbook,
        "task": row.task,
        "state": row.state,
        "stage": row.stage,
        "attempt": row.attempt,
        "detail": row.detail,
        "created_at": iso(row.created_at),
        "env_names": row.env_names.split(",") if row.env_names else [],
        "host": row.host,
        "stages": [
            {
                "stage": st.stage,
                "state": st.state,
                "attempt": st.attempt,
                "detail": st.detail,
                "started_at": iso(st.started_at),
                "ended_at": iso(st.ended_at) if st.ended_at else None,
            }
            for st in runs.stages(row.id)
        ],
    }


def event_json(row: Event) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": iso(row.at),
        "session": row.session_id,
        "kind": row.kind,
        "severity": row.severity,
        "message": row.message,
        "data": json.loads(row.data),
    }
