"""Turning store rows into JSON objects and human tables."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import click

from orchtui.controls import shown_safe
from orchtui.engine.why import status_source
from orchtui.store.ledger import Ledger
from orchtui.store.records import Records
from orchtui.store.tables import AgentSession, Command


def iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds") if ts is not None else None


def session_json(records: Records, row: AgentSession) -> dict[str, Any]:
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
    }


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


def emit_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def table(rows: list[list[str]], headers: list[str]) -> None:
    """Columns of stored text, its terminal control characters shown escaped."""
    rows = [[shown_safe(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    click.echo("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def one_line(text: str, width: int = 48) -> str:
    flat = shown_safe(" ".join(text.split()))
    return flat if len(flat) <= width else flat[: width - 1] + "…"
