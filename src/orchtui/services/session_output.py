"""What an agent's terminal shows now, for a program (an MCP client, the web API): the
last lines (its history too), its status and its last prompt's state."""

from __future__ import annotations

from typing import Any

from orchtui.controls import shown_safe
from orchtui.domain import CommandKind, SessionStatus
from orchtui.services import host_actions, screen_share
from orchtui.services.context import Context

LINES_LIMIT = 2000


def read_output(ctx: Context, session_id: str, lines: int) -> dict[str, Any]:
    row = ctx.records.session(session_id)
    lines = max(1, min(lines, LINES_LIMIT))
    live = SessionStatus(row.status).live
    here = host_actions.owner(ctx, row) is None
    if not live:
        output = f"(the agent is {row.status}: no screen)"
    elif here:
        output = "\n".join(ctx.tmux.capture_lines(row.tmux_pane, lines) if row.tmux_pane else [])
    elif (shared := screen_share.shown_now(ctx, row, timeout=5.0)) is not None:
        output = "\n".join(screen_share.as_text(shared).splitlines()[-lines:])  # as its host published it
    else:
        output = f"(the agent runs on host {row.host}: it published no screen in time)"
    prompts = [c for c in ctx.ledger.rows(session_id) if c.kind == CommandKind.PROMPT]
    last = prompts[-1] if prompts else None
    return {
        "session": session_id,
        "status": row.status,
        "status_detail": row.status_detail,
        "last_prompt": None if last is None else {"id": last.id, "state": last.state, "text": last.text},
        "output": shown_safe(output),
    }
