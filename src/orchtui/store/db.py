"""Opening the database: WAL for SQLite, a versioned schema, short write transactions."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel, create_engine

from orchtui.errors import OrchtuiError
from orchtui.locks import file_lock
from orchtui.store import tables
from orchtui.store.sealing import Seal

SCHEMA_VERSION = 8


def _v2_urgent_commands(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE command ADD COLUMN urgent BOOLEAN NOT NULL DEFAULT 0"))


def _v3_session_roles(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE agent_session ADD COLUMN role VARCHAR"))


def _v4_runs(engine: Engine) -> None:
    names = ("run", "approval", "gate_result", "artifact")
    SQLModel.metadata.create_all(engine, tables=[SQLModel.metadata.tables[n] for n in names])
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE agent_session ADD COLUMN run_id VARCHAR"))


def _v5_usage(engine: Engine) -> None:
    SQLModel.metadata.create_all(engine, tables=[SQLModel.metadata.tables["usage"]])


def _v6_merges(engine: Engine) -> None:
    SQLModel.metadata.create_all(engine, tables=[SQLModel.metadata.tables["merge"]])


def _v7_skill_vetting(engine: Engine) -> None:
    SQLModel.metadata.create_all(engine, tables=[SQLModel.metadata.tables["skill_vetting"]])


def _v8_submit_offsets(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE command ADD COLUMN submit_offset INTEGER"))


# version -> function that upgrades a database from version-1 to version.
MIGRATIONS: dict[int, Callable[[Engine], None]] = {
    2: _v2_urgent_commands,
    3: _v3_session_roles,
    4: _v4_runs,
    5: _v5_usage,
    6: _v6_merges,
    7: _v7_skill_vetting,
    8: _v8_submit_offsets,
}


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class Store:
    def __init__(self, url: str, key_file: Path | None = None) -> None:
        """`key_file` seals queued prompts (store/sealing.py); beside a SQLite file by default."""
        self.url = url
        self._lock_path: Path | None = None
        if url.startswith("sqlite:///"):
            db_file = Path(url.removeprefix("sqlite:///"))
            db_file.parent.mkdir(parents=True, exist_ok=True)
            self._lock_path = db_file.with_name(db_file.name + ".migrate.lock")
            key_file = key_file or db_file.with_name(db_file.name + ".key")
            self.engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(url, pool_pre_ping=True)
        if key_file is None:
            raise OrchtuiError(f"database {url}: a key file for queued prompts is needed (Store(key_file=…))")
        self.seal = Seal(key_file)
        try:
            if self._lock_path is not None:
                with file_lock(self._lock_path):  # two processes may open a new database at once
                    self._migrate()
            else:
                self._migrate()
        except SQLAlchemyError as exc:
            raise OrchtuiError(f"database {url}: {exc.__class__.__name__}: {exc.args[0]}") from None

    def _migrate(self) -> None:
        SQLModel.metadata.create_all(self.engine, tables=[SQLModel.metadata.tables["meta"]])
        with Session(self.engine) as db:
            row = db.get(tables.Meta, "schema_version")
            version = int(row.value) if row else 0
        if version > SCHEMA_VERSION:
            raise OrchtuiError(
                f"database {self.url} has schema version {version}; this orchtui knows {SCHEMA_VERSION}"
            )
        if version == SCHEMA_VERSION:
            return
        if version == 0:
            SQLModel.metadata.create_all(self.engine)
            version = SCHEMA_VERSION
        while version < SCHEMA_VERSION:
            version += 1
            MIGRATIONS[version](self.engine)
        with Session(self.engine) as db:
            db.merge(tables.Meta(key="schema_version", value=str(version)))
            db.commit()

    @property
    def schema_version(self) -> int:
        with Session(self.engine) as db:
            row = db.get(tables.Meta, "schema_version")
            return int(row.value) if row else 0

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as db:
            yield db

    def close(self) -> None:
        self.engine.dispose()


def now() -> float:
    return time.time()
