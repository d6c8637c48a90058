"""Runs, approvals, gate results and artifacts."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Table, update
from sqlalchemy import select as core_select
from sqlmodel import SQLModel, col, select

from orchtui.domain import ApprovalState, RunState, StageState
from orchtui.errors import NotFound, UsageError
from orchtui.redact import redact
from orchtui.store.db import Store, now
from orchtui.store.tables import Approval, Artifact, GateResult, Run, RunStage

_RUNS: Table = SQLModel.metadata.tables["run"]


class Runs:
    def __init__(self, store: Store) -> None:
        self.store = store

    # runs -------------------------------------------------------------------
    def add(self, run: Run) -> Run:
        run.detail = redact(run.detail) if run.detail else run.detail
        with self.store.db() as db:
            db.add(run)
            db.commit()
            return run

    def find(self, run_id: str) -> Run | None:
        with self.store.db() as db:
            return db.get(Run, run_id)

    def get(self, run_id: str) -> Run:
        with self.store.db() as db:
            run = db.get(Run, run_id)
            if run is None:
                raise NotFound(f"no run {run_id!r}")
            return run

    def all(self) -> list[Run]:
        with self.store.db() as db:
            return list(db.exec(select(Run).order_by(col(Run.created_at))).all())

    def claim(self, run_id: str, host: str) -> bool:
        """Make `host` the run's worker when no one is (a run from before hosts were
        recorded); True when it is `host`'s now."""
        with self.store.sql.begin() as conn:
            conn.execute(update(_RUNS).where(_RUNS.c.id == run_id, _RUNS.c.host.is_(None)).values(host=host))
            return bool(conn.execute(core_select(_RUNS.c.host).where(_RUNS.c.id == run_id)).scalar() == host)

    def take_over(self, dead: str, host: str) -> list[str]:
        """`dead`'s unfinished runs become `host`'s; the ids this call moved (a conditional
        update: when several workers try at once, each run moves once)."""
        unfinished = [s.value for s in RunState if not s.final]
        with self.store.sql.begin() as conn:
            moved = conn.execute(
                update(_RUNS)
                .where(_RUNS.c.host == dead, _RUNS.c.state.in_(unfinished))
                .values(host=host, updated_at=now())
                .returning(_RUNS.c.id)
            ).scalars()
            return list(moved)

    def update(self, run_id: str, **fields: Any) -> Run:
        with self.store.db() as db:
            run = db.get(Run, run_id)
            if run is None:
                raise NotFound(f"no run {run_id!r}")
            for key, value in fields.items():
                setattr(run, key, redact(value) if key == "detail" and isinstance(value, str) else value)
            run.updated_at = now()
            db.add(run)
            db.commit()
            return run

    # stages ---------------------------------------------------------------
    def stages(self, run_id: str) -> list[RunStage]:
        """The run's stages whose needs were met, in the order they became ready."""
        with self.store.db() as db:
            query = select(RunStage).where(RunStage.run_id == run_id).order_by(col(RunStage.id))
            return list(db.exec(query).all())

    def stage_row(self, run_id: str, stage: str) -> RunStage:
        with self.store.db() as db:
            row = db.exec(select(RunStage).where(RunStage.run_id == run_id, RunStage.stage == stage)).first()
            if row is None:
                raise NotFound(f"run {run_id} has not reached stage {stage!r}")
            return row

    def open_stage(
        self, run_id: str, stage: str, state: StageState = StageState.PENDING, attempt: int = 1
    ) -> None:
        """The stage's needs are met: it gets its row (once)."""
        with self.store.db() as db:
            if db.exec(select(RunStage).where(RunStage.run_id == run_id, RunStage.stage == stage)).first():
                return
            db.add(RunStage(run_id=run_id, stage=stage, state=state, attempt=attempt, started_at=now()))
            db.commit()

    def update_stage(self, run_id: str, stage: str, **fields: Any) -> RunStage:
        with self.store.db() as db:
            row = db.exec(select(RunStage).where(RunStage.run_id == run_id, RunStage.stage == stage)).first()
            if row is None:
                raise NotFound(f"run {run_id} has not reached stage {stage!r}")
            for key, value in fields.items():
                setattr(row, key, redact(value) if key == "detail" and isinstance(value, str) else value)
            if "state" in fields:
                row.ended_at = now() if StageState(row.state).finished else None
            db.add(row)
            db.commit()
            return row

    def roll_up(self, run_id: str, detail: str | None = None, **fields: Any) -> Run:
        """The run's row follows its stages: the ones under way (`stage`, "test, docs"; in a
        paused run, the ones that stopped it), their latest attempt, and, unless the run is
        paused or over, the state that most needs attention (waiting_approval, running,
        gating, pending)."""
        rows = self.stages(run_id)
        active = [r for r in rows if not StageState(r.state).finished]
        run = self.get(run_id)
        if active:
            if fields.get("state", run.state) == RunState.PAUSED:  # name what stopped it
                active = [r for r in active if r.state == StageState.PAUSED] or active
            fields |= {"stage": ", ".join(r.stage for r in active), "attempt": max(r.attempt for r in active)}
            if run.state not in (RunState.PAUSED, *(s for s in RunState if s.final)):
                states = {r.state for r in active}
                order = ("waiting_approval", "running", "gating", "pending")
                fields.setdefault("state", next((s for s in order if s in states), run.state))
        elif rows:
            last = max(rows, key=lambda r: (r.ended_at or 0.0, r.id or 0))
            fields |= {"stage": last.stage, "attempt": last.attempt}
        return self.update(run_id, detail=detail, **fields)

    # approvals --------------------------------------------------------------
    def request_approval(
        self, run_id: str, stage: str, action: str, shown: dict[str, Any], again: bool = False
    ) -> Approval:
        """The approval for (run, stage, action), created once; `again` asks anew after
        a rejection (a resumed run)."""
        found = self.approval_for(run_id, stage, action)
        if found is not None and not (again and found.state == ApprovalState.REJECTED):
            return found
        return self._new_approval(
            Approval(run_id=run_id, stage=stage, action=action, shown="", created_at=now()), shown
        )

    def request_session_approval(
        self, session_id: str, stage: str, shown: dict[str, Any], asker: str
    ) -> Approval:
        """An approval about one session (asked for over MCP): a new row each time, so each
        request shows a person exactly what it proposes."""
        row = Approval(
            session_id=session_id, stage=stage, action=f"requested by {asker}", shown="", created_at=now()
        )
        return self._new_approval(row, shown)

    def _new_approval(self, row: Approval, shown: dict[str, Any]) -> Approval:
        """`row`, pending, showing `shown` (secrets masked)."""
        row.shown, row.state = redact(json.dumps(shown, default=str)), ApprovalState.PENDING
        with self.store.db() as db:
            db.add(row)
            db.commit()
            return row

    def session_approvals(self, session_id: str, stage: str) -> list[Approval]:
        """The approvals asked for about one session's `stage`, newest first."""
        with self.store.db() as db:
            query = (
                select(Approval)
                .where(Approval.session_id == session_id, Approval.stage == stage)
                .order_by(col(Approval.id).desc())
            )
            return list(db.exec(query).all())

    def approval(self, approval_id: int) -> Approval:
        with self.store.db() as db:
            row = db.get(Approval, approval_id)
            if row is None:
                raise NotFound(f"no approval {approval_id}")
            return row

    def approval_for(self, run_id: str, stage: str, action: str) -> Approval | None:
        """The latest approval asked for (run, stage, action)."""
        with self.store.db() as db:
            return db.exec(
                select(Approval)
                .where(Approval.run_id == run_id, Approval.stage == stage, Approval.action == action)
                .order_by(col(Approval.id).desc())
            ).first()

    def approvals(self, pending_only: bool = False) -> list[Approval]:
        with self.store.db() as db:
            query = select(Approval).order_by(col(Approval.id))
            if pending_only:
                query = query.where(Approval.state == ApprovalState.PENDING)
            return list(db.exec(query).all())

    def answer(self, approval_id: int, approve: bool, who: str, reason: str | None = None) -> Approval:
        if not approve and not (reason or "").strip():
            raise UsageError("--reason: say why it is rejected")
        with self.store.db() as db:
            row = db.get(Approval, approval_id)
            if row is None:
                raise NotFound(f"no approval {approval_id}")
            if row.state != ApprovalState.PENDING:
                raise UsageError(f"approval {approval_id} was already {row.state} by {row.who}")
            row.state = ApprovalState.APPROVED if approve else ApprovalState.REJECTED
            row.who, row.reason, row.decided_at = who, reason, now()
            db.add(row)
            db.commit()
            return row

    # gates and artifacts ----------------------------------------------------
    def record_gate(self, row: GateResult) -> GateResult:
        row.evidence, row.why = redact(row.evidence), redact(row.why)
        with self.store.db() as db:
            db.add(row)
            db.commit()
            return row

    def gate_results(self, run_id: str, stage: str | None = None) -> list[GateResult]:
        with self.store.db() as db:
            query = select(GateResult).where(GateResult.run_id == run_id).order_by(col(GateResult.id))
            if stage is not None:
                query = query.where(GateResult.stage == stage)
            return list(db.exec(query).all())

    def add_artifact(self, row: Artifact) -> Artifact:
        row.content = redact(row.content)
        with self.store.db() as db:
            db.add(row)
            db.commit()
            return row

    def artifact_rows(self, run_id: str) -> list[Artifact]:
        with self.store.db() as db:
            return list(
                db.exec(select(Artifact).where(Artifact.run_id == run_id).order_by(col(Artifact.id))).all()
            )

    def artifacts(self, run_id: str) -> dict[str, str]:
        """Name -> content; a name recorded again keeps its latest content."""
        return {row.name: row.content for row in self.artifact_rows(run_id)}
