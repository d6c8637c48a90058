"""Opening the database: WAL for SQLite, a versioned schema, short write transactions."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy.dialects.sqlite  # noqa: F401  # imported with the store, not at the first query (the warm CLI process)
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import Session, SQLModel, create_engine

from orchtui.errors import OrchtuiError
from orchtui.locks import file_lock
from orchtui.store import tables
from orchtui.store.sealing import Seal

SCHEMA_VERSION = 15
WAKE_CHANNEL = "orchtui_wake"  # PostgreSQL LISTEN/NOTIFY channel: the store changed, look again
MIGRATION_LOCK = 0x6F726368  # PostgreSQL advisory lock held while the schema is made or moved on
CREATION_LOCK = 0x6F726369  # PostgreSQL advisory lock held while capacity is checked and a session made


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


def _v9_run_stages(engine: Engine) -> None:
    SQLModel.metadata.create_all(engine, tables=[SQLModel.metadata.tables["run_stage"]])
    have = {c["name"] for c in inspect(engine).get_columns("run")}  # v4 made it from today's model
    with engine.begin() as conn:  # what runs kept as artifacts (env:names, group) is the run's own
        for column in ("env_names", "group_runs"):
            if column not in have:
                conn.execute(text(f"ALTER TABLE run ADD COLUMN {column} VARCHAR"))
        conn.execute(
            text(
                "UPDATE run SET env_names = (SELECT content FROM artifact"
                " WHERE artifact.run_id = run.id AND artifact.name = 'env:names' ORDER BY id DESC LIMIT 1)"
            )
        )
        conn.execute(
            text(
                "UPDATE run SET group_runs = (SELECT content FROM artifact"
                " WHERE artifact.run_id = run.id AND artifact.name = 'group' ORDER BY id DESC LIMIT 1)"
            )
        )


def _v10_archived_sessions(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE agent_session ADD COLUMN archived_at FLOAT"))


def _v11_session_approvals(engine: Engine) -> None:
    """An approval may be about a session (asked for over MCP) instead of a run's stage:
    `session_id` is added and `run_id` may be empty. SQLite cannot drop a NOT NULL, so its
    table is made anew from today's model and the rows copied."""
    with engine.begin() as conn:
        old = [c["name"] for c in inspect(conn).get_columns("approval")]  # v4 made it from today's model
        if engine.dialect.name != "sqlite":
            if "session_id" not in old:
                conn.execute(text("ALTER TABLE approval ADD COLUMN session_id VARCHAR"))
                conn.execute(text("CREATE INDEX ix_approval_session_id ON approval (session_id)"))
            conn.execute(text("ALTER TABLE approval ALTER COLUMN run_id DROP NOT NULL"))
            return
        for index in inspect(conn).get_indexes("approval"):
            conn.execute(text(f'DROP INDEX "{index["name"]}"'))
        conn.execute(text("ALTER TABLE approval RENAME TO approval_v10"))
        SQLModel.metadata.tables["approval"].create(conn)
        names = ", ".join(old)
        conn.execute(text(f"INSERT INTO approval ({names}) SELECT {names} FROM approval_v10"))
        conn.execute(text("DROP TABLE approval_v10"))


def _v12_workers(engine: Engine) -> None:
    SQLModel.metadata.create_all(engine, tables=[SQLModel.metadata.tables["worker"]])


def _v13_session_hosts(engine: Engine) -> None:
    if "host" in {c["name"] for c in inspect(engine).get_columns("agent_session")}:
        return
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE agent_session ADD COLUMN host VARCHAR"))
        conn.execute(text("CREATE INDEX ix_agent_session_host ON agent_session (host)"))


def _v14_host_actions(engine: Engine) -> None:
    SQLModel.metadata.create_all(engine, tables=[SQLModel.metadata.tables["host_action"]])
    if "socket" not in {c["name"] for c in inspect(engine).get_columns("worker")}:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE worker ADD COLUMN socket VARCHAR NOT NULL DEFAULT ''"))
    if "host" in {c["name"] for c in inspect(engine).get_columns("run")}:
        return
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE run ADD COLUMN host VARCHAR"))
        conn.execute(text("CREATE INDEX ix_run_host ON run (host)"))


def _v15_fleet_and_races(engine: Engine) -> None:
    for table in ("shared_screen", "race_entry"):
        SQLModel.metadata.create_all(engine, tables=[SQLModel.metadata.tables[table]])
    worker = {c["name"] for c in inspect(engine).get_columns("worker")}
    session = {c["name"] for c in inspect(engine).get_columns("agent_session")}
    gates = {c["name"] for c in inspect(engine).get_columns("gate_result")}
    with engine.begin() as conn:
        if "entry" not in gates:
            conn.execute(text("ALTER TABLE gate_result ADD COLUMN entry INTEGER"))
        if "worktree_root" not in worker:
            conn.execute(text("ALTER TABLE worker ADD COLUMN worktree_root VARCHAR NOT NULL DEFAULT ''"))
            conn.execute(text("ALTER TABLE worker ADD COLUMN peers VARCHAR NOT NULL DEFAULT '[]'"))
        if "markers" not in session:
            conn.execute(text("ALTER TABLE agent_session ADD COLUMN markers VARCHAR"))


# version -> function that upgrades a database from version-1 to version.
MIGRATIONS: dict[int, Callable[[Engine], None]] = {
    2: _v2_urgent_commands,
    3: _v3_session_roles,
    4: _v4_runs,
    5: _v5_usage,
    6: _v6_merges,
    7: _v7_skill_vetting,
    8: _v8_submit_offsets,
    9: _v9_run_stages,
    10: _v10_archived_sessions,
    11: _v11_session_approvals,
    12: _v12_workers,
    13: _v13_session_hosts,
    14: _v14_host_actions,
    15: _v15_fleet_and_races,
}


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


# Engines a process readied before it forks (the warm CLI process, cli/warm.py): each
# child's first Store for the URL takes it, with its compiled statements (the first
# snapshot of 500 sessions spent ~130 ms compiling SQL). No connection is open in it.
_READIED: dict[str, Engine] = {}


def ready_for_fork(store: Store) -> None:
    """`store`'s engine, its statements compiled by what ran on it, for the children of a
    fork: its connections are closed now, so no child shares one with another."""
    store.sql.dispose()
    _READIED[store.url] = store.sql


class Store:
    def __init__(self, url: str, key_file: Path | None = None) -> None:
        """`key_file` seals queued prompts (store/sealing.py); beside a SQLite file by default."""
        self.url = url
        readied = _READIED.pop(url, None)
        self._lock_path: Path | None = None
        if url.startswith("sqlite:///"):
            db_file = Path(url.removeprefix("sqlite:///"))
            db_file.parent.mkdir(parents=True, exist_ok=True)
            self._lock_path = db_file.with_name(db_file.name + ".migrate.lock")
            key_file = key_file or db_file.with_name(db_file.name + ".key")
            if readied is not None:
                self.sql = readied
            else:
                self.sql = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
                event.listen(self.sql, "connect", _sqlite_pragmas)
        else:
            self.sql = readied or create_engine(url, pool_pre_ping=True)
        if key_file is None:
            raise OrchtuiError(f"database {url}: a key file for queued prompts is needed (Store(key_file=…))")
        self.seal = Seal(key_file)
        try:
            if self._lock_path is not None:
                with file_lock(self._lock_path):  # two processes may open a new database at once
                    self._migrate()
            elif self.sql.dialect.name == "postgresql":  # processes on several hosts, one server
                with self.sql.connect() as conn:
                    conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
                    try:
                        self._migrate()
                    finally:
                        conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
            else:
                self._migrate()
        except SQLAlchemyError as exc:
            raise OrchtuiError(f"database {url}: {exc.__class__.__name__}: {exc.args[0]}") from None

    def _migrate(self) -> None:
        if self._version() == SCHEMA_VERSION:  # the usual case, one query
            return
        SQLModel.metadata.create_all(self.sql, tables=[SQLModel.metadata.tables["meta"]])
        with Session(self.sql) as db:
            row = db.get(tables.Meta, "schema_version")
            version = int(row.value) if row else 0
        if version > SCHEMA_VERSION:
            raise OrchtuiError(
                f"database {self.url} has schema version {version}; this orchtui knows {SCHEMA_VERSION}"
            )
        if version == SCHEMA_VERSION:
            return
        if version == 0:
            SQLModel.metadata.create_all(self.sql)
            version = SCHEMA_VERSION
        while version < SCHEMA_VERSION:
            version += 1
            MIGRATIONS[version](self.sql)
        with Session(self.sql) as db:
            db.merge(tables.Meta(key="schema_version", value=str(version)))
            db.commit()

    def _version(self) -> int | None:
        """The stored schema version; None before the database has one."""
        try:
            with self.sql.connect() as conn:
                value = conn.execute(text("SELECT value FROM meta WHERE key = 'schema_version'")).scalar()
        except SQLAlchemyError:  # no meta table yet (its statement is rolled back with the connection)
            return None
        return int(value) if value is not None else None

    @property
    def shared(self) -> bool:
        """A server several hosts can share (PostgreSQL), not a file on this one."""
        return self.sql.dialect.name == "postgresql"

    def notify(self, reason: str) -> None:
        """Wake every engine listening on this database (PostgreSQL's NOTIFY on WAKE_CHANNEL,
        delivered when the transaction commits); nothing for SQLite, whose engines share
        this host's wake file."""
        if self.shared:
            with self.sql.begin() as conn:
                conn.execute(
                    text("SELECT pg_notify(:channel, :reason)"),
                    {"channel": WAKE_CHANNEL, "reason": reason[:7000]},
                )

    @contextmanager
    def creation_lock(self, local: Path) -> Iterator[None]:
        """Held while capacity is checked and a session (or worktree) recorded: this host's
        file lock `local`, and on a shared server also an advisory lock that every host's
        creations take, so hosts creating at the same instant cannot each take the last
        slot of a limit the fleet shares (`per_project`, `per_profile`, `per_role`)."""
        with file_lock(local):
            if not self.shared:
                yield
                return
            with self.sql.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": CREATION_LOCK})
                conn.commit()
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": CREATION_LOCK})
                    conn.commit()

    @property
    def schema_version(self) -> int:
        with Session(self.sql) as db:
            row = db.get(tables.Meta, "schema_version")
            return int(row.value) if row else 0

    @contextmanager
    def db(self) -> Iterator[Session]:
        """One unit of work with the database (SQLModel's Session: not an agent's)."""
        with Session(self.sql, expire_on_commit=False) as db:
            yield db

    def close(self) -> None:
        self.sql.dispose()


def now() -> float:
    return time.time()


def is_busy(exc: BaseException) -> bool:
    """The database was locked or busy past its wait (another process held it): the same
    work can succeed when tried again."""
    text = str(getattr(exc, "orig", exc)).lower()
    words = ("locked", "busy", "deadlock detected", "could not serialize", "lock timeout")
    return isinstance(exc, OperationalError) and any(word in text for word in words)
