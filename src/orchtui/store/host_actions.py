"""Actions for one host's worker, asked from any host (services/host_actions.py)."""

from __future__ import annotations

from sqlmodel import col, select

from orchtui.errors import NotFound
from orchtui.store.db import Store, now
from orchtui.store.tables import HostAction

FINAL = ("done", "failed")


class HostActions:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, host: str, kind: str, session_id: str | None, args: str, actor: str) -> HostAction:
        with self.store.db() as db:
            row = HostAction(
                host=host, kind=kind, session_id=session_id, args=args, actor=actor, created_at=now()
            )
            db.add(row)
            db.commit()
            db.refresh(row)
            return row

    def claim(self, host: str) -> HostAction | None:
        """The host's oldest queued action, now `running`; None when there is none. On
        PostgreSQL the row is locked while claimed and skipped by anyone else claiming, so
        two processes for one host never take the same action."""
        with self.store.db() as db:
            query = (
                select(HostAction)
                .where(HostAction.host == host, HostAction.state == "queued")
                .order_by(col(HostAction.id))
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            row = db.exec(query).first()
            if row is None:
                return None
            row.state, row.claimed_at = "running", now()
            db.add(row)
            db.commit()
            return row

    def finish(self, action_id: int, state: str, result: str) -> None:
        with self.store.db() as db:
            row = db.get(HostAction, action_id)
            if row is not None:
                row.state, row.result, row.done_at = state, result, now()
                db.add(row)
                db.commit()

    def get(self, action_id: int) -> HostAction:
        with self.store.db() as db:
            row = db.get(HostAction, action_id)
            if row is None:
                raise NotFound(f"no host action {action_id}")
            return row

    def unfinished(self, host: str) -> list[HostAction]:
        """Claimed but never finished (the worker died while carrying them out), or queued."""
        with self.store.db() as db:
            query = select(HostAction).where(HostAction.host == host, col(HostAction.state).not_in(FINAL))
            return list(db.exec(query.order_by(col(HostAction.id))).all())
