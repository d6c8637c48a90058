"""Why a session is in its status, and what its in-flight ledger row waits for
(`orchtui session why`, `session show --json`)."""

from __future__ import annotations

from typing import Any

from orchtui.domain import CommandKind, CommandState, SessionStatus
from orchtui.services.context import Context
from orchtui.store.tables import AgentSession, Command


def status_source(detail: str | None) -> str:
    """What said so: an agent's hook, a screen rule, the process, or orchtui itself."""
    text = detail or ""
    if text.startswith("hook "):
        return "hook"
    if text.startswith(("screen", "adopted", "resize", "retrying:")):
        return "screen"
    if text.startswith(("exit code", "killed by signal", "process ended", "agent printed its exit")):
        return "process"
    return "orchtui"


def _waits_for(ctx: Context, row: AgentSession, cmd: Command) -> str:
    state = CommandState(cmd.state)
    if state is CommandState.QUEUED:
        if row.taken_over:
            return "the operator to hand the session back (it is taken over or held)"
        if cmd.kind == CommandKind.ANSWER:
            return "the agent to ask (it is not waiting at a permission prompt)"
        return f"the agent to be at its prompt with nothing in flight (it is {row.status})"
    if state is CommandState.ISSUED:
        return "orchtui to paste it and see the agent take the Enter"
    if state is CommandState.DELIVERED:
        limit = ctx.config.delivery.turn_timeout
        return f"the agent to start its turn (a hook, a busy screen or its marker); failed after {limit:g}s"
    return "the agent to finish its turn: back at its prompt, or its completion marker"


def explain(ctx: Context, session_id: str) -> dict[str, Any]:
    row = ctx.records.session(session_id)
    open_rows = ctx.ledger.open_rows(session_id)
    in_flight = next((c for c in open_rows if c.state != CommandState.QUEUED), None)
    head = in_flight or (open_rows[0] if open_rows else None)
    last_error = None
    if row.status == SessionStatus.ERROR:
        last_error = row.status_detail
    return {
        "id": row.id,
        "status": row.status,
        "since": row.status_at,
        "source": status_source(row.status_detail),
        "detail": row.status_detail,
        "exit_code": row.exit_code,
        "taken_over": row.taken_over,
        "last_error": last_error,
        "queued": sum(1 for c in open_rows if c.state == CommandState.QUEUED),
        "command": None
        if head is None
        else {
            "id": head.id,
            "kind": head.kind,
            "state": head.state,
            "text": head.text[:120],
            "waits_for": _waits_for(ctx, row, head),
        },
    }
