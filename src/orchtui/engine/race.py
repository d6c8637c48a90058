"""A racing stage (playbook `race:`): `count` entries of its one role's work at once, each
an agent in its own worktree and branch off the run's. Each entry is gated on its own as
its turn ends and judged (services/race_score.py); the race is decided by `pick`:

- `first_pass`: the first entry to pass wins (the others are stopped, with `cancel_losers`);
- `best_score`: once every entry is judged (or the stage timed out), the best passing one;
- `operator`: once they are judged, the operator picks (`orchtui race pick`, or the
  dashboard's comparison).

The winner's branch is merged into the run's branch; every entry's branch is kept under
`refs/orchtui/races/<run>/<stage>-<attempt>-<number>`, and its worktree removed only when
it holds nothing uncommitted. Everything is in the store (`race_entry`, the ledger's
tags), so an engine killed mid-race carries on without sending any prompt twice."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from orchtui.domain import CommandState, RunState, SessionStatus, WorktreeState
from orchtui.engine.port import RaceHost
from orchtui.errors import OrchtuiError
from orchtui.playbook import Playbook, Race, Stage
from orchtui.runtime.git import GitRepo
from orchtui.runtime.git_merge import merge_into, tip
from orchtui.services.capacity import Slot, refusal
from orchtui.services.gates import GateOutcome
from orchtui.services.race_score import judge, rank
from orchtui.services.run_stages import role_label, run_tag
from orchtui.services.sessions import SessionService
from orchtui.store.db import is_busy, now
from orchtui.store.tables import RaceEntry, Run

FINISHED = ("passed", "failed", "stopped")  # an entry's states once its turn and gates are over


def entry_agent(race: Race, stage: Stage, number: int) -> str:
    agents = race.agents or stage.roles[0].agents[:1]
    return agents[(number - 1) % len(agents)]


def kept_ref(entry: RaceEntry) -> str:
    """Where an entry's branch is kept once the race is decided."""
    return f"refs/orchtui/races/{entry.run_id}/{entry.stage}-{entry.attempt}-{entry.number}"


def start(adv: RaceHost, run: Run, book: Playbook, stage: Stage) -> None:
    """Every entry at once, within capacity (each one counts): their worktrees, agents and
    prompts are made in a worker; entries already made (before a restart) are kept."""
    race = stage.race
    assert race is not None
    key = (run.id, stage.id)
    if key in adv.starting:
        return
    ctx = adv.ctx
    existing = {e.number: e for e in ctx.races.entries(run.id, stage.id, run.attempt)}
    live = ctx.records.sessions(live_only=True)
    taken = [Slot(r.project_id, r.agent, r.role, r.host) for r in live]
    taken += [slot for slots in adv.starting.values() for slot in slots]
    wanted = []
    for number in range(1, race.count + 1):
        entry = existing.get(number)
        if entry is not None and entry.session_id is not None:
            continue  # made before: its agent counts among the live sessions
        slot = Slot(run.project_id, entry_agent(race, stage, number), stage.roles[0].role, ctx.config.host)
        if not ctx.profiles.get(slot.profile).installed():
            adv.pause(run, f"cannot start the race of {stage.id}: {slot.profile} is not installed")
            return
        if (blocked := refusal(ctx.config.limits, taken, slot)) is not None:
            missing = f"entry {number} ({slot.profile}): {blocked.message}"
            if stage.wait_for_capacity:
                adv.wait_for_capacity(run, stage, missing)
                return
            adv.pause(run, f"cannot start the race of {stage.id}: {missing} (all {race.count} run at once)")
            return
        taken.append(slot)
        wanted.append(slot)

    def make() -> None:
        for number in range(1, race.count + 1):
            entry = existing.get(number) or ctx.races.add(
                RaceEntry(
                    run_id=run.id,
                    stage=stage.id,
                    attempt=run.attempt,
                    number=number,
                    agent=entry_agent(race, stage, number),
                    started_at=now(),
                )
            )
            assert entry.id is not None
            if entry.session_id is None:
                entry = _new_agent(adv, run, stage, entry)
            session = ctx.records.session(entry.session_id or "")
            adv.send(run, stage, stage.roles[0], number - 1, session, None)
            if entry.state == "starting" and entry.id is not None:
                ctx.races.update(entry.id, state="working")

    def started() -> None:
        adv.set(adv.cursor(run.id, stage.id), RunState.RUNNING, f"{stage.id}: a race of {race.count}")
        adv.event(run, "race.started", f"{stage.id}: {race.count} entries, pick {race.pick}", stage=stage.id)

    adv.in_worker(key, run, stage, make, started, wanted)


def _new_agent(adv: RaceHost, run: Run, stage: Stage, entry: RaceEntry) -> RaceEntry:
    """The entry's agent in a worktree and branch of its own, off the run's branch."""
    ctx = adv.ctx
    assert entry.id is not None
    role = stage.roles[0]
    label = role_label(run, stage, role, entry.number - 1)
    with adv.making:
        run.worktree_id = ctx.runs.get(run.id).worktree_id
        project = Path(ctx.records.project(run.project_id).path)
        run_wt = adv.run_worktree(run) or adv.make_run_worktree(run, project)
        session = SessionService(ctx).create(
            project,
            entry.agent,
            f"{run.task[:24]}-{stage.id[:10]}-a{run.attempt}e{entry.number}",
            base=run_wt.branch,
            **adv.agent_args(run, stage, role, entry.agent, ctx.config.host),
        )
        ctx.records.update_session(session.id, task=label)
    wt = ctx.records.worktree(session.worktree_id or 0)
    return ctx.races.update(entry.id, session_id=session.id, worktree_id=wt.id, branch=wt.branch)


def step(adv: RaceHost, run: Run, book: Playbook, stage: Stage) -> None:
    """A running race: gate each entry whose turn ended, then decide when `pick` can."""
    race = stage.race
    assert race is not None
    ctx = adv.ctx
    entries = ctx.races.entries(run.id, stage.id, run.attempt)
    if len(entries) < race.count or any(e.session_id is None for e in entries):
        start(adv, run, book, stage)  # made only in part (a restart): the rest now
        return
    timed_out = now() - min(e.started_at for e in entries) > stage.timeout
    for entry in entries:
        if (entry_id := entry.id) is None:
            continue
        if entry.state in ("starting", "working"):
            rows = [c for c in ctx.ledger.rows(entry.session_id or "") if c.actor == _tag(run, stage, entry)]
            if rows and all(CommandState(c.state).final for c in rows):
                if any(c.state == CommandState.DONE for c in rows):
                    entry = ctx.races.update(entry_id, state="gating", finished_at=now())
                else:
                    why = ", ".join(sorted({c.state for c in rows}))
                    ctx.races.update(entry_id, state="failed", finished_at=now())
                    adv.event(
                        run, "race.entry", f"{stage.id} entry {entry.number}: its turn {why}", "warning"
                    )
                    continue
            elif timed_out:
                _stop(adv, entry, f"stage {stage.id} timed out")
                ctx.races.update(entry_id, state="stopped", finished_at=now())
                adv.event(run, "race.entry", f"{stage.id} entry {entry.number} stopped: timed out", "warning")
                continue
        if entry.state == "gating" and (run.id, stage.id, entry.number) not in adv.entry_gating:
            _begin_gates(adv, run, book, stage, entry)
    decide(adv, adv.cursor(run.id, stage.id), book, stage)


def _tag(run: Run, stage: Stage, entry: RaceEntry) -> str:
    return run_tag(run, stage.id, entry.attempt, stage.roles[0].role, entry.number - 1)


def _begin_gates(adv: RaceHost, run: Run, book: Playbook, stage: Stage, entry: RaceEntry) -> None:
    key = (run.id, stage.id, entry.number)
    adv.entry_gating.add(key)

    async def go() -> None:
        try:
            outcomes = await asyncio.to_thread(adv.check_gates, run, stage, entry)
            _judged(adv, run, stage, entry, outcomes)
        except OrchtuiError as exc:
            adv.pause(
                adv.cursor(run.id, stage.id), f"gates of {stage.id} entry {entry.number}: {exc}", "error"
            )
        except Exception as exc:  # logged and an event; a busy store: the next advance gates again
            adv.engine.boundary.failed(f"gates of {stage.id} entry {entry.number} of run {run.id}", exc)
            if not is_busy(exc):
                adv.pause(
                    adv.cursor(run.id, stage.id), f"gates of {stage.id} entry {entry.number}: {exc}", "error"
                )
        finally:
            adv.entry_gating.discard(key)
        adv.engine.boundary.run(f"advancing run {run.id}", lambda: adv.advance(adv.ctx.runs.get(run.id)))

    task = asyncio.get_running_loop().create_task(go())
    adv.engine.tasks.add(task)
    task.add_done_callback(adv.engine.tasks.discard)


def _judged(adv: RaceHost, run: Run, stage: Stage, entry: RaceEntry, outcomes: list[GateOutcome]) -> None:
    race = stage.race
    assert race is not None and entry.id is not None
    ctx = adv.ctx
    cost = ctx.usage.spent(session_id=entry.session_id) if entry.session_id else 0.0
    seconds = (entry.finished_at or now()) - entry.started_at
    verdict = judge(outcomes, race.weights, cost, seconds)
    ctx.races.update(
        entry.id,
        state="passed" if verdict.passed else "failed",
        score=verdict.score,
        metrics=json.dumps(verdict.metrics),
    )
    adv.event(
        run,
        "race.entry",
        f"{stage.id} entry {entry.number} ({entry.agent}) "
        f"{'passed' if verdict.passed else 'failed'}: {verdict.why}",
        "info" if verdict.passed else "warning",
        stage=stage.id,
        entry=entry.number,
    )
    if entry.session_id and race.pick != "operator":  # its work is judged: the agent may go
        _stop(adv, entry, f"race entry {entry.number} judged")


def _stop(adv: RaceHost, entry: RaceEntry, cause: str) -> None:
    if entry.session_id is None:
        return
    row = adv.ctx.records.session(entry.session_id)
    if SessionStatus(row.status).live:
        SessionService(adv.ctx).stop(entry.session_id, cause)


def decide(adv: RaceHost, run: Run, book: Playbook, stage: Stage) -> None:
    """The race's pick, once it can be made; a race nobody won fails the stage."""
    race = stage.race
    assert race is not None
    key = (run.id, stage.id)
    if adv.halted(run.id) or run.state != RunState.RUNNING or key in adv.starting:
        return  # paused, over, or its entries are being made or its winner crowned (a worker)
    entries = adv.ctx.races.entries(run.id, stage.id, run.attempt)
    if any(e.result == "won" for e in entries):
        return
    done = all(e.state in FINISHED for e in entries)
    best = rank(entries)
    winner: RaceEntry | None = None
    if race.pick == "first_pass" and best:
        winner = min(best, key=lambda e: (e.finished_at or now(), e.number))
    elif race.pick == "best_score" and done and best:
        winner = best[0]
    elif race.pick == "operator":
        picked = [e for e in entries if e.picked_at is not None]
        if picked:
            winner = max(picked, key=lambda e: e.picked_at or 0.0)
        elif done and any(e.state != "stopped" for e in entries):
            shown = f"{stage.id}: race judged; pick an entry (orchtui race pick {run.id} N)"
            if run.detail != shown:
                adv.set(run, RunState.RUNNING, shown)
                adv.event(run, "race.pick", shown, "notice", stage=stage.id)
            return
    if winner is not None:
        if not race.cancel_losers and not done:
            return  # the others finish and are judged first, for the record
        adv.in_worker(  # git and tmux take their time: not on the engine's loop
            key,
            run,
            stage,
            lambda: crown(adv, run, stage, winner),
            lambda: adv.complete_stage(adv.cursor(run.id, stage.id), book, stage),
        )
        return
    if done:
        why = "; ".join(f"entry {e.number} {e.state}" for e in entries)
        adv.on_outcomes(
            run, book, stage, [GateOutcome("fail", f"{stage.id}: no entry of the race passed ({why})")]
        )


def crown(adv: RaceHost, run: Run, stage: Stage, winner: RaceEntry) -> None:
    """In a worker: the winner's branch goes into the run's; every branch is kept under a
    ref; the worktrees that hold nothing unsaved are removed (the stage completes after)."""
    ctx = adv.ctx
    entries = ctx.races.entries(run.id, stage.id, run.attempt)
    for entry in entries:  # the others stop first: nothing is added to a branch once kept
        if entry.number != winner.number:
            _stop(adv, entry, f"race of {stage.id} won by entry {winner.number}")
    _stop(adv, winner, f"race of {stage.id} won")
    repo = GitRepo(Path(ctx.records.project(run.project_id).path))
    run_wt = adv.run_worktree(ctx.runs.get(run.id))
    assert run_wt is not None and winner.branch is not None
    if repo.ahead_behind(winner.branch, run_wt.branch)[0]:
        merge_into(
            repo, run_wt.branch, winner.branch, f"Merge entry {winner.number} of the race of {stage.id}"
        )
    for entry in entries:
        assert entry.id is not None
        won = entry.number == winner.number
        fields: dict[str, object] = {"result": "won" if won else "lost"}
        if entry.state not in FINISHED:
            fields |= {"state": "stopped", "finished_at": now()}
        if entry.branch and repo.branch_exists(entry.branch):
            ref = kept_ref(entry)
            repo.repo.git.update_ref(ref, tip(repo, entry.branch))
            fields["kept_ref"] = ref
            _tidy(adv, repo, entry)
        ctx.races.update(entry.id, **fields)
    adv.event(
        run,
        "race.won",
        f"{stage.id}: entry {winner.number} ({winner.agent}) won the race"
        + (f", score {winner.score:g}" if winner.score is not None else ""),
        "notice",
        stage=stage.id,
        entry=winner.number,
    )


def _tidy(adv: RaceHost, repo: GitRepo, entry: RaceEntry) -> None:
    """Remove an entry's worktree and branch when nothing would be lost (its commits are
    under its kept ref); one with uncommitted work stays as it is."""
    if entry.worktree_id is None or entry.branch is None:
        return
    wt = adv.ctx.records.worktree(entry.worktree_id)
    path = Path(wt.path)
    if path.is_dir() and GitRepo.dirty_files(path):
        adv.ctx.records.update_worktree(wt.id or 0, state=WorktreeState.KEPT)
        return
    if path.is_dir():
        repo.remove_worktree(path)
    if repo.branch_exists(entry.branch):
        repo.repo.git.branch("-D", entry.branch)
    adv.ctx.records.update_worktree(
        wt.id or 0, state=WorktreeState.DELETED, removed_at=now(), rescue_ref=kept_ref(entry)
    )
