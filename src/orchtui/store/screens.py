"""Screens shared between hosts (tables.SharedScreen): a viewer asks for one by renewing
its watch; the session's worker publishes it while the watch lasts."""

from __future__ import annotations

import json

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from orchtui.store.db import Store, now
from orchtui.store.tables import SharedScreen


class Screens:
    def __init__(self, store: Store) -> None:
        self.store = store

    def watch(self, session_id: str, host: str, until: float) -> None:
        """Someone shows this session's screen until `until` (never shortened by a watch
        that ends sooner)."""
        for _ in range(2):  # two viewers may insert the first row at once: the loser updates
            with self.store.db() as db:
                row = db.get(SharedScreen, session_id)
                if row is None:
                    db.add(SharedScreen(session_id=session_id, host=host, watched_until=until))
                elif row.watched_until < until or row.host != host:
                    row.watched_until, row.host = max(row.watched_until, until), host
                    db.add(row)
                else:
                    return
                try:
                    db.commit()
                    return
                except IntegrityError:
                    db.rollback()

    def watched(self, host: str, at: float | None = None) -> list[str]:
        """The sessions of `host` someone watches now."""
        at = now() if at is None else at
        with self.store.db() as db:
            query = select(SharedScreen.session_id).where(
                SharedScreen.host == host, col(SharedScreen.watched_until) > at
            )
            return list(db.exec(query).all())

    def publish(
        self, session_id: str, lines: list[str], cols: int, rows: int, cursor: tuple[int, int]
    ) -> None:
        with self.store.db() as db:
            row = db.get(SharedScreen, session_id)
            if row is None:
                return  # nobody asked (or the session was forgotten)
            row.lines, row.cols, row.rows = json.dumps(lines), cols, rows
            row.cursor_x, row.cursor_y = cursor
            row.published_at, row.publications = now(), row.publications + 1
            db.add(row)
            db.commit()

    def get(self, session_id: str) -> SharedScreen | None:
        with self.store.db() as db:
            return db.get(SharedScreen, session_id)
