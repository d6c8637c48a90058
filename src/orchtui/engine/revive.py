"""A stage's policy for agents that die mid-stage: restart them, resuming their exact
conversation, and ask them to carry on (`restart_agents: N` in the playbook).

The prompt the agent was working on is not sent again: it is in the conversation the
agent resumes. A new ledger row asks it to continue, tagged like the stage's other
rows, so the stage waits for it as for any other.
"""

from __future__ import annotations

import json

from orchtui.domain import CommandState, SessionStatus
from orchtui.engine.port import StageHost
from orchtui.errors import OrchtuiError
from orchtui.playbook import Stage
from orchtui.services.sessions import SessionService
from orchtui.store.db import now
from orchtui.store.tables import AgentSession, Command, Run

UNKNOWN_EXIT_GRACE = 6.0  # seconds: the engine waits 5 s for an exit code before giving up

CONTINUE = (
    "orchtui restarted you after your process ended ({why}). Your conversation is resumed; "
    "carry on with the task where you left off."
)


def died(session: AgentSession) -> bool:
    """Lost, or exited with a known non-zero code (or with none after tmux's grace): an
    exit screen seen before the process's end is not yet a death to act on."""
    if session.status == SessionStatus.LOST:
        return True
    if session.status != SessionStatus.EXITED:
        return False
    if session.exit_code is not None:
        return session.exit_code != 0
    return session.ended_at is not None and now() - session.ended_at > UNKNOWN_EXIT_GRACE


def revive(host: StageHost, run: Run, stage: Stage, rows: list[Command], tag: str) -> bool:
    """Restart one agent of this stage that died with its work unfinished, if the stage
    allows another restart. True when one was restarted (the stage goes on waiting)."""
    if not stage.restart_agents:
        return False
    ctx = host.ctx
    restarts: dict[str, int] = json.loads(ctx.runs.stage_row(run.id, stage.id).restarts)
    for session_id in dict.fromkeys(r.session_id for r in rows if r.state == CommandState.FAILED):
        session = ctx.records.session(session_id)
        if not died(session):
            continue
        key = f"{session_id}:{run.attempt}"
        done = restarts.get(key, 0)
        if done >= stage.restart_agents:
            continue
        why = session.status_detail or session.status
        count = f"{done + 1} of {stage.restart_agents}"
        try:
            SessionService(ctx).restart(
                session_id, env=host.env.for_agent(run, ctx.profiles.get(session.agent).pass_env)
            )
        except OrchtuiError as exc:
            host.event(
                run, "stage.restart_failed", f"{stage.id}: cannot restart {session_id}: {exc}", "error"
            )
            continue
        restarts[key] = done + 1
        ctx.runs.update_stage(run.id, stage.id, restarts=json.dumps(restarts))
        ctx.ledger.enqueue(
            session_id,
            CONTINUE.format(why=why),
            actor=tag,
            cause=f"run {run.id}: stage {stage.id} restarted a dead agent ({count})",
        )
        host.event(
            run,
            "stage.agent_restarted",
            f"{stage.id}: restarted {session_id} ({why}); {count}",
            "warning",
            stage=stage.id,
            session=session_id,
        )
        ctx.wake_engine(f"run {run.id}")
        return True
    return False
