"""The entries of racing stages (tables.RaceEntry)."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from orchtui.errors import NotFound
from orchtui.store.db import Store
from orchtui.store.tables import RaceEntry


class Races:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, row: RaceEntry) -> RaceEntry:
        with self.store.db() as db:
            db.add(row)
            db.commit()
            db.refresh(row)
            return row

    def update(self, entry_id: int, **fields: Any) -> RaceEntry:
        with self.store.db() as db:
            row = db.get(RaceEntry, entry_id)
            if row is None:
                raise NotFound(f"no race entry {entry_id}")
            for key, value in fields.items():
                setattr(row, key, value)
            db.add(row)
            db.commit()
            db.refresh(row)
            return row

    def entries(self, run_id: str, stage: str | None = None, attempt: int | None = None) -> list[RaceEntry]:
        """A run's entries (of one stage, of one of its attempts), in attempt and number order."""
        with self.store.db() as db:
            query = select(RaceEntry).where(RaceEntry.run_id == run_id)
            if stage is not None:
                query = query.where(RaceEntry.stage == stage)
            if attempt is not None:
                query = query.where(RaceEntry.attempt == attempt)
            query = query.order_by(col(RaceEntry.stage), col(RaceEntry.attempt), col(RaceEntry.number))
            return list(db.exec(query).all())
