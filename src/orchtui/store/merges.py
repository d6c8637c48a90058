"""Merges: a branch landing on its target, and the conflict-resolution loop's state."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from orchtui.domain import MergeState
from orchtui.errors import NotFound
from orchtui.store.db import Store
from orchtui.store.tables import Merge

OPEN = (MergeState.RESOLVING, MergeState.VERIFYING)


class Merges:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, row: Merge) -> Merge:
        with self.store.db() as db:
            db.add(row)
            db.commit()
            return row

    def get(self, merge_id: int) -> Merge:
        with self.store.db() as db:
            row = db.get(Merge, merge_id)
        if row is None:
            raise NotFound(f"no merge {merge_id}")
        return row

    def update(self, merge_id: int, **fields: Any) -> Merge:
        with self.store.db() as db:
            row = db.get(Merge, merge_id)
            if row is None:
                raise NotFound(f"no merge {merge_id}")
            for key, value in fields.items():
                setattr(row, key, value)
            db.add(row)
            db.commit()
            return row

    def rows(self, open_only: bool = False, run_id: str | None = None) -> list[Merge]:
        with self.store.db() as db:
            query = select(Merge).order_by(col(Merge.id))
            if open_only:
                query = query.where(col(Merge.state).in_(OPEN))
            if run_id is not None:
                query = query.where(Merge.run_id == run_id)
            return list(db.exec(query).all())

    def open_for_worktree(self, worktree_id: int) -> Merge | None:
        return next((m for m in self.rows(open_only=True) if m.worktree_id == worktree_id), None)

    def by_resolver(self, session_id: str) -> Merge | None:
        return next((m for m in self.rows(open_only=True) if m.resolver_session_id == session_id), None)

    def landed_tip(self, worktree_id: int) -> str | None:
        """The branch tip of the worktree's last landed merge (squash merges leave no ancestry)."""
        done = [m for m in self.rows() if m.worktree_id == worktree_id and m.state == MergeState.MERGED]
        return done[-1].source_tip if done else None
