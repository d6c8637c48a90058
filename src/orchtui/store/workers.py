"""The fleet's workers: one row per host, written by its own engine at each heartbeat."""

from __future__ import annotations

from sqlmodel import col, select

from orchtui.store.db import Store
from orchtui.store.tables import Worker


class Workers:
    def __init__(self, store: Store) -> None:
        self.store = store

    def beat(self, row: Worker) -> Worker:
        """Register or refresh this worker (one row per name)."""
        with self.store.db() as db:
            merged = db.merge(row)
            db.commit()
            return merged

    def stopped(self, name: str, at: float) -> None:
        with self.store.db() as db:
            row = db.get(Worker, name)
            if row is not None:
                row.stopped_at = at
                db.add(row)
                db.commit()

    def all(self) -> list[Worker]:
        with self.store.db() as db:
            return list(db.exec(select(Worker).order_by(col(Worker.name))).all())
