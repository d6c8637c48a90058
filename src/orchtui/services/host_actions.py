"""What only a session's own host can do (its tmux server, its worktrees), asked from any
host sharing the database.

The action is written to the store (`host_action`) and that host is woken (PostgreSQL's
NOTIFY). Its worker claims the action, carries it out through the same services, and
records the result (engine/actions.py). The asking CLI, dashboard or MCP client waits for
that result. One host's actions are carried out one at a time, in the order they were
asked, and once. Prompts need none of this: the ledger is already a per-session queue in
the shared store, and only the owning worker delivers it."""

from __future__ import annotations

import json
from typing import Any

from orchtui.errors import OrchtuiError, Refused
from orchtui.services import fleet, waiting
from orchtui.services.context import Context
from orchtui.store.tables import AgentSession, HostAction

KINDS = ("create", "join", "kill", "restart")
ANSWER_TIMEOUT = 120.0  # seconds the asking side waits for the owning worker's result


def owner(ctx: Context, row: AgentSession) -> str | None:
    """The host that must act on this session, when it is another one than this (its pane
    and window ids then name panes and windows of that host's tmux, never of this one's)."""
    return row.host if row.host is not None and row.host != ctx.config.host else None


def reachable(ctx: Context, host: str) -> bool:
    """The host's worker is live (it would carry out an action)."""
    return any(h.name == host and h.state == "live" for h in fleet.hosts(ctx))


def ask(
    ctx: Context,
    host: str,
    kind: str,
    session_id: str | None,
    args: dict[str, Any],
    actor: str,
    timeout: float = ANSWER_TIMEOUT,
) -> dict[str, Any]:
    """Have `host`'s worker carry out `kind`; its result, or its one-line error raised."""
    assert kind in KINDS, kind
    views = fleet.hosts(ctx)
    state = {h.name: h.state for h in views}.get(host)
    if state != "live":
        known = ", ".join(h.name for h in views if h.state == "live") or "none"
        raise Refused(
            f"host {host} is {state or 'unknown'}: no worker there to {kind}"
            + (f" session {session_id}" if session_id else "")
            + f" (live hosts: {known}; `orchtui hosts`)"
        )
    action = ctx.host_actions.add(host, kind, session_id, json.dumps(args), actor)
    assert action.id is not None
    ctx.wake_engine(f"action {action.id} for {host}", host=host)
    action_id = action.id

    def finished() -> HostAction | None:
        row = ctx.host_actions.get(action_id)
        return row if row.state in ("done", "failed") else None

    done = waiting.until(ctx, finished, timeout)
    if done is None:
        raise waiting.TimedOut(
            f"host {host} has not carried out {kind} (action {action_id}) in {timeout:.0f} s; "
            "it stays queued there"
        )
    if done.state == "failed":
        raise OrchtuiError(f"on host {host}: {done.result}")
    result: dict[str, Any] = json.loads(done.result or "{}")
    return result
