"""Token usage and cost rows, and the sums reports and budgets need."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import func
from sqlmodel import col, select

from orchtui.store.db import Store
from orchtui.store.tables import Usage

SelectT = TypeVar("SelectT", bound=Any)


class UsageBook:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, rows: Iterable[Usage]) -> list[Usage]:
        """Insert the rows not recorded yet (by session and key); return those inserted."""
        rows = list(rows)
        if not rows:
            return []
        with self.store.db() as db:
            sessions = {r.session_id for r in rows}
            known = set(
                db.exec(select(Usage.session_id, Usage.key).where(col(Usage.session_id).in_(sessions))).all()
            )
            fresh: list[Usage] = []
            for row in rows:
                if (row.session_id, row.key) in known:
                    continue
                known.add((row.session_id, row.key))
                fresh.append(row)
                db.add(row)
            db.commit()
            for row in fresh:
                db.refresh(row)
            return fresh

    def rows(
        self, session_id: str | None = None, run_id: str | None = None, since: float | None = None
    ) -> list[Usage]:
        with self.store.db() as db:
            query = _scoped(select(Usage), session_id, run_id, since).order_by(col(Usage.at), col(Usage.id))
            return list(db.exec(query).all())

    def spent(
        self, session_id: str | None = None, run_id: str | None = None, since: float | None = None
    ) -> float:
        with self.store.db() as db:
            query = _scoped(select(func.coalesce(func.sum(Usage.cost), 0.0)), session_id, run_id, since)
            return float(db.exec(query).one())

    def per_session(self) -> dict[str, tuple[int, int, float, str]]:
        """Per session: tokens in (counting cache reads and writes), tokens out, dollars,
        and a model it used."""
        with self.store.db() as db:
            sums = select(
                Usage.session_id,
                func.sum(Usage.input_tokens + Usage.cache_read + Usage.cache_write),
                func.sum(Usage.output_tokens),
                func.sum(Usage.cost),
            ).group_by(col(Usage.session_id))
            models = dict(
                db.exec(select(Usage.session_id, func.max(Usage.model)).group_by(col(Usage.session_id))).all()
            )
            return {
                sid: (int(i or 0), int(o or 0), float(c or 0.0), str(models.get(sid, "")))
                for sid, i, o, c in db.exec(sums).all()
            }

    def points(self, since: float | None = None) -> list[tuple[float, float]]:
        """(time, dollars) of every call, oldest first: spend over time."""
        with self.store.db() as db:
            query = select(Usage.at, Usage.cost).order_by(col(Usage.at))
            if since is not None:
                query = query.where(col(Usage.at) >= since)
            return [(float(at), float(cost)) for at, cost in db.exec(query).all()]


def _scoped(query: SelectT, session_id: str | None, run_id: str | None, since: float | None) -> SelectT:
    """Narrow a usage query to a session, a run, and calls since a time."""
    if session_id is not None:
        query = query.where(Usage.session_id == session_id)
    if run_id is not None:
        query = query.where(Usage.run_id == run_id)
    if since is not None:
        query = query.where(col(Usage.at) >= since)
    return query
