"""The worker's side of host actions (services/host_actions.py): this host's queued
actions, claimed in the order they were asked and carried out one at a time, in a worker
thread (they make windows and worktrees), through the same services as a local command."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from orchtui.errors import OrchtuiError
from orchtui.services.context import Context
from orchtui.services.sessions import SessionService
from orchtui.store.tables import HostAction

log = logging.getLogger("orchtui.engine")


def carry_out(ctx: Context, action: HostAction) -> dict[str, Any]:
    service = SessionService(ctx)
    args: dict[str, Any] = json.loads(action.args)
    if action.kind == "kill" and action.session_id:
        report = service.kill(
            action.session_id, force=bool(args.get("force")), keep_worktree=bool(args.get("keep_worktree"))
        )
        return asdict(report)
    if action.kind == "restart" and action.session_id:
        return {"id": service.restart(action.session_id).id}
    env = {str(k): str(v) for k, v in dict(args.get("env") or {}).items()}
    markers = [str(m) for m in args.get("markers") or []]
    if action.kind == "create":
        row = service.create(
            Path(args["repo"]),
            str(args["agent"]),
            str(args["task"]),
            args.get("base"),
            args.get("prompt"),
            role=args.get("role"),
            run_id=args.get("run_id"),
            env=env or None,
            actor=action.actor or None,
            supervisor=bool(args.get("supervisor")),
            host=ctx.config.host,  # here, as asked: never placed on again
            markers=markers,
        )
        return {"id": row.id}
    if action.kind == "join":
        row = service.join(
            int(args["worktree_id"]),
            str(args["agent"]),
            str(args["label"]),
            role=args.get("role"),
            run_id=args.get("run_id"),
            env=env or None,
            supervisor=bool(args.get("supervisor")),
            host=ctx.config.host,
            markers=markers,
        )
        return {"id": row.id}
    raise OrchtuiError(f"action {action.id}: this worker cannot {action.kind!r}")


def work_through(ctx: Context) -> int:
    """Carry out this host's queued actions until none is left; how many were."""
    count = 0
    while (action := ctx.host_actions.claim(ctx.config.host)) is not None:
        assert action.id is not None
        try:
            state, result = "done", json.dumps(carry_out(ctx, action))
        except OrchtuiError as exc:
            state, result = "failed", str(exc)
        except Exception as exc:  # recorded for the asking side, and logged here in full
            log.exception("host action %s (%s) failed", action.id, action.kind)
            state, result = "failed", f"{exc.__class__.__name__}: {exc}"
        ctx.host_actions.finish(action.id, state, result)
        log.info(
            "host action %s (%s %s) by %s: %s",
            action.id,
            action.kind,
            action.session_id or "",
            action.actor,
            state,
        )
        count += 1
    return count


def abandon_unfinished(ctx: Context) -> int:
    """At the worker's start: actions it had claimed when it stopped are failed, never
    carried out twice (a kill or a creation half done is not repeated blindly)."""
    count = 0
    for action in ctx.host_actions.unfinished(ctx.config.host):
        if action.state == "running" and action.id is not None:
            ctx.host_actions.finish(
                action.id, "failed", "the worker stopped while carrying it out; ask again"
            )
            count += 1
    return count
