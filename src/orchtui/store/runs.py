"""Runs, approvals, gate results and artifacts."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import col, select

from orchtui.domain import ApprovalState
from orchtui.errors import NotFound, UsageError
from orchtui.redact import redact
from orchtui.store.db import Store, now
from orchtui.store.tables import Approval, Artifact, GateResult, Run


class Runs:
    def __init__(self, store: Store) -> None:
        self.store = store

    # runs -------------------------------------------------------------------
    def add(self, run: Run) -> Run:
        run.detail = redact(run.detail) if run.detail else run.detail
        with self.store.session() as db:
            db.add(run)
            db.commit()
            return run

    def get(self, run_id: str) -> Run:
        with self.store.session() as db:
            run = db.get(Run, run_id)
            if run is None:
                raise NotFound(f"no run {run_id!r}")
            return run

    def all(self) -> list[Run]:
        with self.store.session() as db:
            return list(db.exec(select(Run).order_by(col(Run.created_at))).all())

    def update(self, run_id: str, **fields: Any) -> Run:
        with self.store.session() as db:
            run = db.get(Run, run_id)
            if run is None:
                raise NotFound(f"no run {run_id!r}")
            for key, value in fields.items():
                setattr(run, key, redact(value) if key == "detail" and isinstance(value, str) else value)
            run.updated_at = now()
            db.add(run)
            db.commit()
            return run

    # approvals --------------------------------------------------------------
    def request_approval(
        self, run_id: str, stage: str, action: str, shown: dict[str, Any], again: bool = False
    ) -> Approval:
        """The approval for (run, stage, action), created once; `again` asks anew after
        a rejection (a resumed run)."""
        found = self.approval_for(run_id, stage, action)
        if found is not None and not (again and found.state == ApprovalState.REJECTED.value):
            return found
        with self.store.session() as db:
            row = Approval(
                run_id=run_id,
                stage=stage,
                action=action,
                shown=redact(json.dumps(shown, default=str)),
                state=ApprovalState.PENDING.value,
                created_at=now(),
            )
            db.add(row)
            db.commit()
            return row

    def approval_for(self, run_id: str, stage: str, action: str) -> Approval | None:
        """The latest approval asked for (run, stage, action)."""
        with self.store.session() as db:
            return db.exec(
                select(Approval)
                .where(Approval.run_id == run_id, Approval.stage == stage, Approval.action == action)
                .order_by(col(Approval.id).desc())
            ).first()

    def approvals(self, pending_only: bool = False) -> list[Approval]:
        with self.store.session() as db:
            query = select(Approval).order_by(col(Approval.id))
            if pending_only:
                query = query.where(Approval.state == ApprovalState.PENDING.value)
            return list(db.exec(query).all())

    def decide(self, approval_id: int, approve: bool, who: str, reason: str | None = None) -> Approval:
        if not approve and not (reason or "").strip():
            raise UsageError("--reason: say why it is rejected")
        with self.store.session() as db:
            row = db.get(Approval, approval_id)
            if row is None:
                raise NotFound(f"no approval {approval_id}")
            if row.state != ApprovalState.PENDING.value:
                raise UsageError(f"approval {approval_id} was already {row.state} by {row.who}")
            row.state = (ApprovalState.APPROVED if approve else ApprovalState.REJECTED).value
            row.who, row.reason, row.decided_at = who, reason, now()
            db.add(row)
            db.commit()
            return row

    # gates and artifacts ----------------------------------------------------
    def record_gate(self, row: GateResult) -> GateResult:
        row.evidence, row.why = redact(row.evidence), redact(row.why)
        with self.store.session() as db:
            db.add(row)
            db.commit()
            return row

    def gate_results(self, run_id: str, stage: str | None = None) -> list[GateResult]:
        with self.store.session() as db:
            query = select(GateResult).where(GateResult.run_id == run_id).order_by(col(GateResult.id))
            if stage is not None:
                query = query.where(GateResult.stage == stage)
            return list(db.exec(query).all())

    def add_artifact(self, row: Artifact) -> Artifact:
        row.content = redact(row.content)
        with self.store.session() as db:
            db.add(row)
            db.commit()
            return row

    def artifact_rows(self, run_id: str) -> list[Artifact]:
        with self.store.session() as db:
            return list(
                db.exec(select(Artifact).where(Artifact.run_id == run_id).order_by(col(Artifact.id))).all()
            )

    def artifacts(self, run_id: str) -> dict[str, str]:
        """Name -> content; a name recorded again keeps its latest content."""
        return {row.name: row.content for row in self.artifact_rows(run_id)}
