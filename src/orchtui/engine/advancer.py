"""Running playbooks: the engine advances each run one idempotent step at a time.

A run's state lives in the store. `advance()` is called when anything that could move
it happens (a wake-up, a ledger row of one of its sessions becoming final, the slow
reconcile) and does the next step for the current state:

  pending ──(human_approval: recorded approval)──▶ running ──▶ gating ──▶ next stage
      ▲                                              ▲           │
      └──────────────── retry with the gates' evidence ──────────┘   (or paused / done)

Role prompts are tagged in the ledger (`actor = run:<id>:<stage>:<attempt>:<role>:<n>`),
so after a crash the same step finds its rows instead of sending them again.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchtui.domain import ApprovalState, CommandState, RunState, StageState
from orchtui.engine import race
from orchtui.engine.merge_stage import check_merge_stage, land, landed
from orchtui.engine.port import Loop
from orchtui.engine.revive import revive
from orchtui.errors import OrchtuiError
from orchtui.playbook import Nudge, Playbook, Role, Stage, load_playbook
from orchtui.runtime.git import GitRepo
from orchtui.runtime.git_changes import changed_files
from orchtui.runtime.git_merge import merge_into
from orchtui.services import fleet
from orchtui.services.allocation import Candidate, plan_stage
from orchtui.services.capacity import Slot
from orchtui.services.events import emit
from orchtui.services.gates import GateOutcome, evaluate
from orchtui.services.memory import remember, summarize
from orchtui.services.merging import MergeService
from orchtui.services.notify import News
from orchtui.services.run_env import RunEnv
from orchtui.services.run_stages import (
    failed_gates,
    role_label,
    role_labels,
    run_tag,
    stage_commands,
    stage_rows,
)
from orchtui.services.run_text import approval_shown, gate_feedback, stage_prompt
from orchtui.services.sessions import SessionService
from orchtui.services.skill_steps import STEP_INDEX, run_step
from orchtui.skills import catalog_for, effective_trust
from orchtui.store.db import is_busy, now
from orchtui.store.tables import (
    AgentSession,
    Artifact,
    GateResult,
    Merge,
    RaceEntry,
    Run,
    RunStage,
    Worktree,
)
from orchtui.store.vetting import Vettings

log = logging.getLogger("orchtui.runs")


def on_loop() -> bool:
    """True in the loop's thread, False in a worker."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class RunAdvancer:
    def __init__(self, engine: Loop) -> None:
        self.engine = engine
        self.ctx = engine.ctx
        self.gating: set[tuple[str, str]] = set()  # (run, stage) whose gates are being checked
        self.entry_gating: set[tuple[str, str, int]] = set()  # (run, stage, number) of race entries
        # (run, stage) whose agents are being made in a worker, and the slots they will take
        self.starting: dict[tuple[str, str], list[Slot]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.making = threading.Lock()  # sessions and worktrees of runs are made one at a time
        self._books: dict[str, Playbook] = {}
        self.env = RunEnv(self.ctx)  # pass_env values from the shell that started each run

    # entry points -----------------------------------------------------------
    def advance_all(self) -> None:
        runs = [r for r in self.ctx.runs.all() if r.host in (None, self.ctx.config.host)]
        for run in runs:
            if not RunState(run.state).final:
                self.env.take(run.id)  # at once: the handed-over values do not wait on disk
                if run.state != RunState.PAUSED:
                    self.safely(run)
        for run in runs:
            if RunState(run.state).final and run.id in self.env.looked:
                self.env.forget(run.id)

    def poke(self, session_id: str) -> None:
        """A ledger row of this session became final, or the session ended."""
        if MergeService(self.ctx).after_resolver_turn(session_id) is not None:
            return
        row = self.ctx.records.find_session(session_id)
        if row is not None and row.run_id:
            run = self.ctx.runs.get(row.run_id)
            if run.host not in (None, self.ctx.config.host):  # a stage of another host's run ran here
                self.ctx.wake_engine(f"run {run.id}: {session_id} moved on", host=run.host)
                return
            self.safely(run)

    def safely(self, run: Run) -> None:
        if run.host != self.ctx.config.host and not (
            run.host is None and self.ctx.runs.claim(run.id, self.ctx.config.host)
        ):
            return  # another host's worker advances it (until that host goes silent: services/fleet.py)
        try:
            self.advance(run)
        except OrchtuiError as exc:
            self.pause(run, f"error: {exc}", severity="error")

    # the state machine ------------------------------------------------------
    def playbook(self, run: Run) -> Playbook:
        if run.id not in self._books:
            names = {p.name for p in self.ctx.profiles.all()}
            self._books[run.id] = load_playbook(Path(run.playbook_path), names)
        return self._books[run.id]

    def advance(self, run: Run) -> None:
        """Step every stage whose needs are met until nothing moves: a finished stage lets
        the stages that need it start (side by side when they need nothing else)."""
        book = self.playbook(run)
        for _ in range(2 * len(book.stages) + 2):
            if self.halted(run.id):
                return
            rows = self.open_ready(self.ctx.runs.get(run.id), book)
            if rows is None:
                return  # done
            for row in rows:
                if StageState(row.state).finished or self.halted(run.id):
                    continue
                cursor = self.cursor(run.id, row.stage)
                try:
                    self.step(cursor, book, book.stage(row.stage))
                except OrchtuiError as exc:
                    self.pause(cursor, f"error: {exc}", severity="error")
            after = self.ctx.runs.stages(run.id)
            if [(r.stage, r.state, r.attempt) for r in after] == [
                (r.stage, r.state, r.attempt) for r in rows
            ]:
                return

    def halted(self, run_id: str) -> bool:
        """Paused or over: nothing of the run moves."""
        state = RunState(self.ctx.runs.get(run_id).state)
        return state.final or state is RunState.PAUSED

    def cursor(self, run_id: str, stage_id: str) -> Run:
        """The run as one of its stages sees it: that stage's state, attempt and detail."""
        run, row = self.ctx.runs.get(run_id), self.ctx.runs.stage_row(run_id, stage_id)
        state = RunState.DONE if row.state is StageState.SKIPPED else RunState(row.state)  # finished alike
        fields = {"stage": row.stage, "state": state, "attempt": row.attempt, "detail": row.detail}
        return Run.model_validate(run.model_dump() | fields)

    def open_ready(self, run: Run, book: Playbook) -> list[RunStage] | None:
        """Open every stage whose needs are all finished; the run is done when every
        stage is. The run's stages, or None once it is done."""
        rows = stage_rows(self.ctx, run, book)
        finished = {r.stage for r in rows if StageState(r.state).finished}
        if len(finished) == len(book.stages):
            self.ctx.runs.roll_up(run.id, "all stages complete", state=RunState.DONE)
            self.event(run, "run.state", f"{run.state} -> done", state=RunState.DONE)
            summarize(self.ctx, self.ctx.runs.get(run.id), "done, all stages complete")
            self.event(run, "run.done", "done")
            return None
        have = {r.stage for r in rows}
        deps = book.dependencies()
        ready = [s.id for s in book.stages if s.id not in have and all(n in finished for n in deps[s.id])]
        for stage_id in ready:
            self.ctx.runs.open_stage(run.id, stage_id)
            self.event(
                run,
                "run.state",
                f"stage {stage_id}, attempt 1",
                state=StageState.PENDING,
                stage=stage_id,
                attempt=1,
            )
        if ready:
            self.ctx.runs.roll_up(run.id, run.detail)
            rows = self.ctx.runs.stages(run.id)
        return rows

    def step(self, run: Run, book: Playbook, stage: Stage) -> None:
        """The next step of one stage (`run` is the stage's view: its state and attempt)."""
        state = RunState(run.state)
        if state is RunState.PENDING and stage.repos is not None:
            repo = self.ctx.records.project(run.project_id).name
            if repo not in stage.repos:  # a multi-repository run: this stage is for the others
                self.event(
                    run, "stage.skipped", f"{stage.id} skipped in {repo} (repos: {', '.join(stage.repos)})"
                )
                self.finish_stage(run, book, stage, StageState.SKIPPED)
                return
        if state in (RunState.PENDING, RunState.WAITING_APPROVAL) and stage.automation == "manual":
            if self.approved(run, book, stage, "done"):  # the operator did the work: its gates decide
                self.begin_gates(self.set(run, RunState.GATING), book, stage)
        elif state in (RunState.PENDING, RunState.WAITING_APPROVAL):
            asks = stage.automation == "human_approval" or self.unvetted(run, stage)
            if asks and not self.approved(run, book, stage, "start"):
                return
            self.start_stage(run, book, stage)
        elif state is RunState.RUNNING and stage.merge:
            check_merge_stage(self, run, book, stage)
        elif state is RunState.RUNNING and stage.race:
            race.step(self, run, book, stage)
        elif state is RunState.RUNNING:
            rows = stage_commands(self.ctx, run, stage.id, run.attempt)
            started = min((r.queued_at for r in rows), default=None)
            open_rows = [r for r in rows if not CommandState(r.state).final]
            if started is not None and open_rows and now() - started > stage.timeout:
                for cmd in open_rows:
                    self.ctx.ledger.transition(
                        cmd.id or 0, CommandState.CANCELLED, f"stage {stage.id} timed out"
                    )
                self.event(run, "stage.timeout", f"{stage.id} timed out after {stage.timeout:.0f}s", "error")
                self.on_outcomes(
                    run,
                    book,
                    stage,
                    [GateOutcome("fail", f"{stage.id} timed out after {stage.timeout:.0f}s")],
                )
                return
            if revive(self, run, stage, rows, run_tag(run, stage.id, run.attempt)):
                return
            if not all(CommandState(r.state).final for r in rows) or not (rows or not stage.roles):
                return  # gates run only once every role prompt of this attempt is final
            if rows and not any(r.state == CommandState.DONE for r in rows):
                why = f"{stage.id}: no role prompt finished ({', '.join(sorted({r.state for r in rows}))})"
                self.event(run, "stage.failed", why, "warning")
                self.on_outcomes(run, book, stage, [GateOutcome("fail", why)])
                return
            self.begin_gates(self.set(run, RunState.GATING), book, stage)
        elif state is RunState.GATING and (run.id, stage.id) not in self.gating:
            self.begin_gates(run, book, stage)  # after a restart: check again

    def set(self, run: Run, state: RunState, detail: str | None = None, attempt: int | None = None) -> Run:
        """Move one stage (`run` is its view) to `state`; the run's row follows."""
        stage, attempt = run.stage or "", run.attempt if attempt is None else attempt
        if run.state != state:
            self.event(run, "run.state", f"{stage}: {run.state} -> {state}", state=state, stage=stage)
        elif attempt != run.attempt:
            self.event(run, "run.state", f"stage {stage}, attempt {attempt}", state=state, stage=stage)
        self.ctx.runs.update_stage(run.id, stage, state=state, attempt=attempt, detail=detail)
        self.ctx.runs.roll_up(run.id, detail)
        return self.cursor(run.id, stage)

    def event(self, run: Run, kind: str, message: str, severity: str = "info", **data: Any) -> None:
        emit(self.ctx, kind, f"run {run.id}: {message}", severity=severity, run=run.id, **data)
        log.info("run %s: %s", run.id, message)

    def stuck(self, session_id: str) -> None:
        """A run's agent is silent while working: its stage's `stuck_policy` acts, once per
        silence (the agent.stuck event is already out)."""
        row = self.ctx.records.find_session(session_id)
        if row is None or not row.run_id:
            return
        run = self.ctx.runs.get(row.run_id)
        if RunState(run.state).final:
            return
        book = self.playbook(run)
        stage = next((s for s in book.stages if row.task in role_labels(run, s)), None)
        if stage is None:
            return
        run = self.cursor(run.id, stage.id)
        policy = stage.stuck_policy
        if isinstance(policy, Nudge):
            cmd = self.ctx.ledger.enqueue(
                session_id,
                policy.nudge,
                actor=f"stuck_policy:{run.id}:{stage.id}",
                cause="stuck_policy: nudge",
                urgent=True,
            )
            self.event(
                run, "stage.stuck", f"{stage.id}: {session_id} is stuck; nudged (#{cmd.id})", "warning"
            )
            self.ctx.wake_engine(f"nudge {session_id}")
        elif policy == "escalate":
            self.pause(run, f"{stage.id}: agent {session_id} is stuck (silent while working)", "critical")
        elif policy == "restart":
            service = SessionService(self.ctx)
            service.stop(session_id, f"stuck_policy: restart ({stage.id})")
            restarted = service.restart(session_id)
            self.event(
                run,
                "stage.stuck",
                f"{stage.id}: {session_id} was stuck; {restarted.status_detail}",
                "warning",
            )

    def budget_exhausted(self, run_id: str, why: str) -> None:
        """The run's (or its day's) budget is spent: it starts nothing new until resumed."""
        run = self.ctx.runs.get(run_id)
        if not RunState(run.state).final and run.state != RunState.PAUSED:
            self.pause(run, f"budget: {why}", severity="error")

    def pause(self, run: Run, why: str, severity: str = "warning") -> None:
        """The run pauses; the stage(s) `run` names are marked as the ones that stopped it
        (what `resume` and `retry` act on)."""
        self.event(run, "run.paused", why, severity=severity)
        self.stopped_by(run, why)
        self.ctx.runs.roll_up(run.id, why, state=RunState.PAUSED)

    def stopped_by(self, run: Run, why: str) -> None:
        rows = {r.stage: r for r in self.ctx.runs.stages(run.id)}
        for name in (run.stage or "").split(", "):
            if name in rows and not StageState(rows[name].state).finished:
                self.ctx.runs.update_stage(run.id, name, state=StageState.PAUSED, detail=why)

    def unvetted(self, run: Run, stage: Stage) -> list[str]:
        """An auto_notify stage's skills that are not vetted (community or experimental):
        it runs them only after a person approves its start."""
        if stage.automation != "auto_notify":
            return []
        names = [r.skill for r in stage.roles if r.skill] + [c.skill for st in stage.steps for c in st.skills]
        if not names:
            return []
        catalog = catalog_for(Path(self.ctx.records.project(run.project_id).path))
        vetted = Vettings(self.ctx.store).vetted_digests()
        found = [(name, catalog.get(name)) for name in dict.fromkeys(names)]
        return [
            f"{name} ({effective_trust(skill, vetted)})"
            for name, skill in found
            if skill is not None and effective_trust(skill, vetted) != "vetted"
        ]

    # approvals --------------------------------------------------------------
    def approved(self, run: Run, book: Playbook, stage: Stage, action: str) -> bool:
        """A person's word on the stage: `start` (human_approval: its agents may start) or
        `done` (manual: orchtui runs nothing; the operator did the work and says so).
        Asked once, recorded; until answered the run waits."""
        what = f"start {stage.id}" if action == "start" else f"mark {stage.id} done (a manual stage)"
        approval = self.ctx.runs.approval_for(run.id, stage.id, action)
        if approval is None:
            shown = approval_shown(self.ctx, run, book, stage, self.live_slots(), self.run_worktree(run))
            unvetted = self.unvetted(run, stage) if action == "start" else []
            if unvetted:  # why an auto_notify stage asks
                shown["unvetted"] = unvetted
                what += f" (it runs skills not vetted: {', '.join(unvetted)})"
            approval = self.ctx.runs.request_approval(run.id, stage.id, action, shown | {"action": action})
            self.event(
                run,
                "approval.requested",
                f"approval #{approval.id} to {what}",
                "notice" if action == "done" else "info",  # a manual stage waits for the operator's work
                approval=approval.id,
                stage=stage.id,
            )
            self.engine.call(News("approval", f"run {run.id}: {what}"))
        if approval.state == ApprovalState.PENDING:
            if run.state != RunState.WAITING_APPROVAL:
                self.set(run, RunState.WAITING_APPROVAL, f"approval #{approval.id}: {what}?")
            return False
        if approval.state == ApprovalState.REJECTED:
            self.pause(run, f"{what} rejected by {approval.who}: {approval.reason}")
            return False
        return True

    def run_worktree(self, run: Run) -> Worktree | None:
        """The run's shared worktree, once its first agent has created it."""
        return self.ctx.records.worktree(run.worktree_id) if run.worktree_id else None

    # stages -----------------------------------------------------------------
    def live_slots(self) -> list[Slot]:
        return [
            Slot(r.project_id, r.agent, r.role, r.host) for r in self.ctx.records.sessions(live_only=True)
        ]

    def start_stage(self, run: Run, book: Playbook, stage: Stage) -> None:
        """Plan the stage's agents here; make their worktrees and windows (git, tmux, the
        setup command: seconds to minutes) in a worker, so the loop goes on meanwhile."""
        key = (run.id, stage.id)
        if key in self.starting:
            return  # its agents are being made
        if stage.merge:
            merges: list[Merge | None] = []
            self.in_worker(
                key,
                run,
                stage,
                lambda: merges.append(land(self, run, stage)),
                lambda: landed(self, self.cursor(run.id, stage.id), book, stage, merges[0]),
            )
            return
        if stage.race:
            race.start(self, run, book, stage)
            return
        live = self.ctx.records.sessions(live_only=True)
        mine = [s for s in live if s.run_id == run.id]
        labels = role_labels(run, stage)
        others = [
            Slot(r.project_id, r.agent, r.role, r.host)
            for r in live
            if not (r.run_id == run.id and r.task in labels)
        ]
        others += [slot for slots in self.starting.values() for slot in slots]  # being made elsewhere
        siblings = any(s.task not in labels for s in mine) or any(k[0] == run.id for k in self.starting)
        plan = plan_stage(
            stage,
            run.project_id,
            self.ctx.config.limits,
            others,
            lambda name: self.ctx.profiles.get(name).installed(),
            self.hosts(),
        )
        if not plan.fillable:
            missing = "; ".join(f"{a.role}: {a.reason}" for a in plan.assignments if a.profile is None)
            if (stage.wait_for_capacity or siblings) and "capacity:" in missing:
                self.wait_for_capacity(run, stage, missing)
                return
            self.pause(run, f"cannot start {stage.id}: {missing}")
            return
        feedback = gate_feedback(failed_gates(self.ctx, run, stage.id, run.attempt - 1)) or None
        slots = [
            Slot(run.project_id, a.profile, role.role, a.host or self.ctx.config.host)
            for role, a in zip(stage.roles, plan.assignments, strict=True)
            if a.profile is not None
            for _ in range(role.count)
        ]

        def make() -> None:
            for role, assignment in zip(stage.roles, plan.assignments, strict=True):
                assert assignment.profile is not None
                for index in range(role.count):
                    session = self.session_for(
                        run, stage, role, index, assignment.profile, mine, assignment.host
                    )
                    self.mark_start(run, stage)
                    self.send(run, stage, role, index, session, feedback)

        def started() -> None:
            self.set(
                self.cursor(run.id, stage.id),
                RunState.RUNNING,
                f"{stage.id}: {len(stage.roles)} role(s) working",
            )

        self.in_worker(key, run, stage, make, started, slots)

    def wait_for_capacity(self, run: Run, stage: Stage, missing: str) -> None:
        """The stage waits for room (said once, while what is missing stays the same)."""
        if run.detail != f"waiting for capacity: {missing}":
            self.event(run, "stage.waiting", f"{stage.id} waits for capacity: {missing}")
            self.ctx.runs.update_stage(run.id, stage.id, detail=f"waiting for capacity: {missing}")
            self.ctx.runs.roll_up(run.id, f"{stage.id} waiting for capacity: {missing}")

    def agent_args(
        self, run: Run, stage: Stage, role: Role, profile: str, host: str | None = None
    ) -> dict[str, Any]:
        """What SessionService.create and join take for a stage's agent besides its
        worktree: role, run, environment, supervision, host and completion markers."""
        elsewhere = host not in (None, self.ctx.config.host)
        # values from the run's shell stay on this host: another host's agent takes its own
        env = {} if elsewhere else self.env.for_agent(run, self.ctx.profiles.get(profile).pass_env)
        if stage.allow_bash:
            env["ORCHTUI_AGENT_ALLOW_BASH"] = "1"
        return {
            "role": role.role,
            "run_id": run.id,
            "env": env,
            "supervisor": role.supervisor,
            "host": host,
            "markers": [stage.completion_marker] if stage.completion_marker else [],
        }

    def hosts(self) -> list[Candidate] | None:
        """Where a stage's agents may go: with no fleet, None (here); in one, this host
        first, then the live hosts that share its disk (services/fleet.py)."""
        if not self.ctx.store.shared:
            return None
        ctx = self.ctx
        here = Candidate(
            ctx.config.host, ctx.config.limits.max_sessions, lambda n: ctx.profiles.get(n).installed()
        )
        return [here] + [
            Candidate(v.name, v.capacity, set(v.agents).__contains__) for v in fleet.stage_hosts(ctx)
        ]

    def in_worker(
        self,
        key: tuple[str, str],
        run: Run,
        stage: Stage,
        work: Callable[[], None],
        then: Callable[[], None] | None = None,
        slots: list[Slot] | None = None,
    ) -> None:
        """Run a stage's slow start (`work`) in a worker thread; `then`, on the loop, once
        it is done, unless the run was paused or ended meanwhile. A failure pauses the run."""
        self.starting[key] = slots or []
        self.loop = asyncio.get_running_loop()

        async def go() -> None:
            try:
                await asyncio.to_thread(work)
                if self.halted(run.id):
                    if RunState(self.ctx.runs.get(run.id).state).final:  # cancelled meanwhile
                        await asyncio.to_thread(
                            SessionService(self.ctx).stop_run, run.id, f"run {run.id} ended"
                        )
                elif then is not None:
                    then()
            except OrchtuiError as exc:
                self.pause(self.cursor(run.id, stage.id), f"cannot start {stage.id}: {exc}", "error")
            except Exception as exc:  # logged and an event; a busy store: the next advance tries again
                self.engine.boundary.failed(f"starting {stage.id} of run {run.id}", exc)
                if not is_busy(exc):
                    self.pause(self.cursor(run.id, stage.id), f"cannot start {stage.id}: {exc}", "error")
            finally:
                self.starting.pop(key, None)
            self.engine.boundary.run(
                f"advancing run {run.id}", lambda: self.advance(self.ctx.runs.get(run.id))
            )

        task = self.loop.create_task(go())
        self.engine.tasks.add(task)
        task.add_done_callback(self.engine.tasks.discard)

    def session_for(
        self,
        run: Run,
        stage: Stage,
        role: Role,
        index: int,
        profile: str,
        mine: list[AgentSession],
        host: str | None = None,
    ) -> AgentSession:
        """The live session for this role of this stage, started if needed (on `host`, in
        a fleet): the first agent of a run creates its worktree and branch; the others join
        it. One at a time (stages side by side make theirs in workers at once)."""
        label = role_label(run, stage, role, index)
        for session in mine:
            if session.task == label:
                return session
        with self.making:
            run.worktree_id = self.ctx.runs.get(run.id).worktree_id  # another stage may have made it
            return self._new_session(run, stage, role, profile, label, host)

    def _new_session(
        self, run: Run, stage: Stage, role: Role, profile: str, label: str, host: str | None = None
    ) -> AgentSession:
        service = SessionService(self.ctx)
        project = Path(self.ctx.records.project(run.project_id).path)
        common = self.agent_args(run, stage, role, profile, host)
        if stage.worktree == "own":
            known = self.ctx.runs.stage_row(run.id, stage.id).worktree_id
            if known is not None:
                return service.join(known, profile, label, **common)
            run_wt = self.run_worktree(run) or self.make_run_worktree(run, project)
            task = f"{run.task[:40]}-{stage.id[:20]}"
            session = service.create(project, profile, task, base=run_wt.branch, **common)
            self.ctx.runs.update_stage(run.id, stage.id, worktree_id=session.worktree_id)
            return self.ctx.records.update_session(session.id, task=label)
        shared = self.worktree_id(run, stage)
        if shared is not None:
            return service.join(shared, profile, label, **common)
        session = service.create(project, profile, run.task, **common)
        self.ctx.runs.update(run.id, worktree_id=session.worktree_id)
        run.worktree_id = session.worktree_id
        return self.ctx.records.update_session(session.id, task=label)

    def make_run_worktree(self, run: Run, project: Path) -> Worktree:
        """The run's own worktree and branch, made before its first agent when a stage
        with `worktree: own` comes first: that stage branches from it and merges back."""
        wt = SessionService(self.ctx).make_worktree(project, run.task)
        self.ctx.runs.update(run.id, worktree_id=wt.id)
        run.worktree_id = wt.id
        return wt

    def worktree_id(self, run: Run, stage: Stage) -> int | None:
        """The worktree a stage works (and is gated) in: its own, another stage's, or the run's."""
        if stage.worktree != "shared":
            owner = stage.id if stage.worktree == "own" else stage.worktree
            rows = {r.stage: r for r in self.ctx.runs.stages(run.id)}
            if owner in rows and rows[owner].worktree_id is not None:
                return rows[owner].worktree_id
        return run.worktree_id

    def mark_start(self, run: Run, stage: Stage) -> None:
        """Remember the commit a stage starts from (what `revert` returns to)."""
        wt_id = self.worktree_id(run, stage)
        if wt_id is None or self.ctx.runs.stage_row(run.id, stage.id).start_commit is not None:
            return
        head = GitRepo(Path(self.ctx.records.worktree(wt_id).path)).repo.head.commit.hexsha
        self.ctx.runs.update_stage(run.id, stage.id, start_commit=head)

    def send(
        self, run: Run, stage: Stage, role: Role, index: int, session: AgentSession, feedback: str | None
    ) -> None:
        tag = run_tag(run, stage.id, run.attempt, role.role, index)
        if any(cmd.actor == tag for cmd in self.ctx.ledger.rows(session.id)):
            return  # already queued before a restart: never twice
        if stage.completion_marker:  # watched before the prompt can be delivered
            if self.loop is not None and not on_loop():
                self.loop.call_soon_threadsafe(self.engine.add_marker, session.id, stage.completion_marker)
            else:
                self.engine.add_marker(session.id, stage.completion_marker)
        self.ctx.ledger.enqueue(
            session.id,
            stage_prompt(self.ctx, run, self.playbook(run), stage, role, feedback, self.run_worktree(run)),
            actor=tag,
            cause=f"run {run.id}: stage {stage.id}, attempt {run.attempt}",
        )
        self.ctx.wake_engine(f"run {run.id}")

    # gates ------------------------------------------------------------------
    def begin_gates(self, run: Run, book: Playbook, stage: Stage) -> None:
        """Check the stage's gates in a worker thread (a test suite can take minutes)."""
        self.gating.add((run.id, stage.id))
        loop = asyncio.get_running_loop()
        task = loop.create_task(self._gates(run, book, stage))
        self.engine.tasks.add(task)
        task.add_done_callback(self.engine.tasks.discard)

    async def _gates(self, run: Run, book: Playbook, stage: Stage) -> None:
        try:
            outcomes = await asyncio.to_thread(self.check_gates, run, stage)
            self.on_outcomes(self.cursor(run.id, stage.id), book, stage, outcomes)
        except OrchtuiError as exc:
            self.pause(run, f"gates of {stage.id}: {exc}", severity="error")
        except Exception as exc:  # logged and an event; a busy store: the next advance checks again
            self.engine.boundary.failed(f"gates of {stage.id} of run {run.id}", exc)
        finally:
            self.gating.discard((run.id, stage.id))

    def check_gates(self, run: Run, stage: Stage, entry: RaceEntry | None = None) -> list[GateOutcome]:
        """The stage's steps and gates in its worktree (a race entry's, for `entry`: its
        results are its own, and the metrics its gates read are kept on the entry)."""
        wt_id = entry.worktree_id if entry is not None else self.worktree_id(run, stage)
        wt = self.ctx.records.worktree(wt_id) if wt_id else None
        worktree = Path(wt.path) if wt else Path(self.ctx.records.project(run.project_id).path)
        artifacts = self.ctx.runs.artifacts(run.id)
        outcomes = []
        catalog = catalog_for(Path(self.ctx.records.project(run.project_id).path)) if stage.steps else None
        number = entry.number if entry is not None else None
        for index, step in enumerate(stage.steps):  # skills as steps, before the gates
            assert catalog is not None
            outcome = run_step(self.ctx, run, stage.id, step, catalog, worktree, wt_id)
            self.record_outcome(run, stage, STEP_INDEX + index, "step", outcome)
            outcomes.append(outcome)
        for index, gate in enumerate(stage.gates):
            approved = None
            if gate.type == "approval":
                approval = self.ctx.runs.request_approval(
                    run.id, stage.id, f"gate {index}", {"stage": stage.id, "prompt": gate.prompt}
                )
                approved = (
                    None
                    if approval.state == ApprovalState.PENDING
                    else approval.state == ApprovalState.APPROVED
                )
            values = {"task": run.task, "stage": stage.id, "attempt": str(run.attempt)}
            if wt is not None:
                values |= {"base": wt.base, "branch": wt.branch}
            outcome = evaluate(
                gate,
                worktree,
                artifacts=artifacts,
                metric=lambda name: self.metric(run, artifacts, name),
                approved=approved,
                values=values,
            )
            if outcome.state == "pending" and gate.type == "metric_threshold":
                outcome = self.unresolved(run, stage, outcome)
            for name, value in outcome.metrics.items():  # for the metric gates after this one
                artifacts[f"metric:{name}"] = f"{value:g}"
                if entry is None:  # an entry's stay on the entry (engine/race.py)
                    self.ctx.runs.add_artifact(
                        Artifact(
                            run_id=run.id,
                            stage=stage.id,
                            name=f"metric:{name}",
                            content=f"{value:g}",
                            at=now(),
                        )
                    )
            self.record_outcome(run, stage, index, gate.type, outcome, number)
            outcomes.append(outcome)
        return outcomes

    def metric(self, run: Run, artifacts: dict[str, str], name: str) -> float | None:
        """A metric_threshold gate's number: one a command gate read or an agent recorded
        (`metric:<name>`, e.g. a jury's score), or the run's own cost, attempts, age, or
        the size of its diff against its base (`diff.files`, `diff.lines`)."""
        if f"metric:{name}" in artifacts:
            return float(artifacts[f"metric:{name}"])
        if name == "cost.run_usd":
            return self.ctx.usage.spent(run_id=run.id)
        if name == "attempts":
            return float(run.attempt)
        if name == "time.run_s":
            return now() - run.created_at
        if name in ("diff.files", "diff.lines") and (wt := self.run_worktree(run)) is not None:
            changes = changed_files(Path(wt.path), wt.base)
            return float(len(changes) if name == "diff.files" else sum(c.added + c.deleted for c in changes))
        return None

    def unresolved(self, run: Run, stage: Stage, outcome: GateOutcome) -> GateOutcome:
        """A metric nobody provides would keep the stage waiting forever: past the stage's
        timeout (counted from its first gate check) it fails, saying so."""
        first = min(
            (g.at for g in self.ctx.runs.gate_results(run.id, stage.id) if g.attempt == run.attempt),
            default=now(),
        )
        if now() - first < stage.timeout:
            return outcome
        return GateOutcome(
            "fail", f"{outcome.why} after {stage.timeout:.0f}s (the stage timeout): never resolved"
        )

    def record_outcome(
        self, run: Run, stage: Stage, index: int, kind: str, outcome: GateOutcome, entry: int | None = None
    ) -> None:
        self.ctx.runs.record_gate(
            GateResult(
                run_id=run.id,
                stage=stage.id,
                attempt=run.attempt,
                gate_index=index,
                type=kind,
                state=outcome.state,
                why=outcome.why,
                evidence=outcome.evidence,
                at=now(),
                entry=entry,
            )
        )
        what = ("step" if kind == "step" else f"gate {index}") + (f" of entry {entry}" if entry else "")
        self.event(
            run,
            f"gate.{'passed' if outcome.state == 'pass' else outcome.state}",
            f"{stage.id} {what} ({kind}) {outcome.state}: {outcome.why}",
            severity="warning" if outcome.state in ("fail", "warn") else "info",
        )

    def on_outcomes(self, run: Run, book: Playbook, stage: Stage, outcomes: list[GateOutcome]) -> None:
        if self.halted(run.id) or run.state not in (RunState.RUNNING, RunState.GATING):
            return  # paused or cancelled while its gates ran: the operator's word stands
        states = {o.state for o in outcomes}
        if "fail" not in states and "pending" in states:
            self.set(run, RunState.GATING, f"{stage.id}: waiting on a gate")
            return
        if "fail" not in states:
            self.complete_stage(run, book, stage)
            return
        feedback = gate_feedback([o for o in outcomes if o.state == "fail"])
        if stage.on_failure in ("retry", "revert") and run.attempt <= stage.retries:
            if stage.on_failure == "revert":
                self.revert(run, stage)
            run = self.set(
                run, RunState.RUNNING, f"{stage.id}: gates failed, attempt {run.attempt + 1}", run.attempt + 1
            )
            self.event(run, "stage.retry", f"{stage.id} attempt {run.attempt}", severity="warning")
            if stage.race:  # a new race: new entries, each in a new worktree
                self.start_stage(run, book, stage)
                return
            mine = {s.task: s for s in self.ctx.records.sessions(live_only=True) if s.run_id == run.id}
            labels = [
                (role, i, role_label(run, stage, role, i)) for role in stage.roles for i in range(role.count)
            ]
            if any(label not in mine for _, _, label in labels):
                # an agent is gone (its host died, or it was killed): the attempt starts like
                # the first, with new agents where needed, here, and the failure as feedback
                gone = ", ".join(label for _, _, label in labels if label not in mine)
                self.event(
                    run, "stage.restart", f"{stage.id}: {gone} gone; attempt {run.attempt} starts new agents"
                )
                self.start_stage(run, book, stage)
                return
            for role, index, label in labels:
                self.send(run, stage, role, index, mine[label], feedback)
            return
        severity = "critical" if stage.on_failure == "escalate" else "warning"
        why = "; ".join(o.why for o in outcomes if o.state == "fail")
        if stage.on_failure == "fail":  # the playbook gives up: the run ends failed
            self.fail(run, f"{stage.id}: {why} (attempt {run.attempt})")
            return
        self.pause(run, f"{stage.id}: {why} ({stage.on_failure}, attempt {run.attempt})", severity)

    def fail(self, run: Run, why: str) -> None:
        """The run ends `failed`: its agents stop; worktrees, branches and records are kept."""
        self.event(run, "run.state", f"{run.stage}: {run.state} -> failed", state=RunState.FAILED)
        self.stopped_by(run, why)
        self.ctx.runs.roll_up(run.id, why, state=RunState.FAILED)
        SessionService(self.ctx).stop_run(run.id, f"run {run.id} failed")
        summarize(self.ctx, self.ctx.runs.get(run.id), f"failed: {why}")
        self.event(run, "run.failed", why, "error")

    def complete_stage(self, run: Run, book: Playbook, stage: Stage) -> None:
        service = SessionService(self.ctx)
        labels = role_labels(run, stage)
        for session in self.ctx.records.sessions(live_only=True):
            if session.run_id == run.id and session.task in labels:
                service.stop(session.id, f"stage {stage.id} complete")
        summary = "\n".join(
            f"{g.type}: {g.state} — {g.why}"
            for g in self.ctx.runs.gate_results(run.id, stage.id)
            if g.attempt == run.attempt
        )
        self.ctx.runs.add_artifact(
            Artifact(run_id=run.id, stage=stage.id, name=f"stage:{stage.id}", content=summary, at=now())
        )
        remember(self.ctx, run, stage, summary, self.run_worktree(run))
        if stage.worktree == "own" and run.worktree_id is not None and (own := self.worktree_id(run, stage)):
            run_wt, stage_wt = self.ctx.records.worktree(run.worktree_id), self.ctx.records.worktree(own)
            repo = GitRepo(Path(self.ctx.records.project(run.project_id).path))
            if repo.ahead_behind(stage_wt.branch, run_wt.branch)[0]:
                merge_into(repo, run_wt.branch, stage_wt.branch, f"Merge stage {stage.id} of run {run.id}")
        self.event(run, "stage.completed", f"{stage.id} complete (attempt {run.attempt})", stage=stage.id)
        if stage.automation == "auto_notify":  # it ran on its own; the operator is told it is done
            self.event(
                run,
                "stage.notify",
                f"stage {stage.id} of {run.task} completed; the run moves on",
                "notice",
                stage=stage.id,
            )
        self.finish_stage(run, book, stage, StageState.DONE)

    def finish_stage(self, run: Run, book: Playbook, stage: Stage, state: StageState) -> None:
        """The stage is done (or skipped): the stages that need it may start."""
        self.ctx.runs.update_stage(run.id, stage.id, state=state)
        self.ctx.runs.roll_up(run.id, run.detail)
        self.advance(self.ctx.runs.get(run.id))

    def revert(self, run: Run, stage: Stage) -> None:
        """Back to the commit the stage started from; what it did is kept under a rescue ref."""
        start = self.ctx.runs.stage_row(run.id, stage.id).start_commit
        wt_id = self.worktree_id(run, stage)
        if not start or wt_id is None:
            return
        path = Path(self.ctx.records.worktree(wt_id).path)
        ref = f"refs/orchtui/rescue/{run.id}-{stage.id}-{run.attempt}"
        GitRepo.rescue(path, ref)
        GitRepo.reset_to(path, start)
        self.event(
            run,
            "stage.reverted",
            f"{stage.id} reverted to {start[:10]}; its work is kept at {ref}",
            severity="warning",
            ref=ref,
        )
