"""Skill vettings: who vetted which exact text of a skill, and when."""

from __future__ import annotations

from sqlmodel import col, select

from orchtui.store.db import Store, now
from orchtui.store.tables import SkillVetting


class Vettings:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, name: str, version: str, digest: str, who: str) -> SkillVetting:
        with self.store.db() as db:
            row = SkillVetting(name=name, version=version, digest=digest, who=who, at=now())
            db.add(row)
            db.commit()
            return row

    def rows(self) -> list[SkillVetting]:
        with self.store.db() as db:
            return list(db.exec(select(SkillVetting).order_by(col(SkillVetting.id))).all())

    def vetted_digests(self) -> set[tuple[str, str]]:
        return {(r.name, r.digest) for r in self.rows()}
