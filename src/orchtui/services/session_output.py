"""What an agent's terminal shows now, for a program (an MCP client, the web API): the
last lines (its history too), its status and its last prompt's state."""

from __future__ import annotations

from typing import Any

from orchtui.controls import shown_safe
from orchtui.domain import CommandKind, SessionStatus
from orchtui.services import host_actions
from orchtui.services.context import Context

LINES_LIMIT = 2000


def read_output(ctx: Context, session_id: str, lines: int) -> dict[str, Any]:
    row = ctx.records.session(session_id)
    lines = max(1, min(lines, LINES_LIMIT))
    live = SessionStatus(row.status).live
    here = host_actions.owner(ctx, row) is None
    screen = ctx.tmux.capture_lines(row.tmux_pane, lines) if live and here and row.tmux_pane else []
    prompts = [c for c in ctx.ledger.rows(session_id) if c.kind == CommandKind.PROMPT]
    last = prompts[-1] if prompts else None
    return {
        "session": session_id,
        "status": row.status,
        "status_detail": row.status_detail,
        "last_prompt": None if last is None else {"id": last.id, "state": last.state, "text": last.text},
        "output": shown_safe("\n".join(screen))
        if live and here
        else f"(the agent runs on host {row.host}: its screen is there)"
        if live
        else f"(the agent is {row.status}: no screen)",
    }
