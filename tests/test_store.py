"""The store on a real SQLite file: WAL, schema version, ledger rules, redaction."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from orchtui.domain import CommandKind, CommandState
from orchtui.errors import OrchtuiError
from orchtui.store import Store
from orchtui.store.db import SCHEMA_VERSION, now
from orchtui.store.ledger import IllegalTransition, Ledger
from orchtui.store.records import Records
from orchtui.store.tables import AgentSession, Project


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'o.db'}")


def _session(store: Store) -> str:
    records = Records(store)
    project = records.project_for("/repo", "repo", "orchtui-repo")
    at = now()
    records.add_session(
        AgentSession(
            id="abc123",
            project_id=project.id or 0,
            agent="scripted",
            task="t",
            status="idle",
            created_at=at,
            updated_at=at,
            status_at=at,
        )
    )
    return "abc123"


def test_sqlite_runs_in_wal_mode_with_a_schema_version(store: Store, tmp_path: Path) -> None:
    _session(store)
    conn = sqlite3.connect(tmp_path / "o.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(
        SCHEMA_VERSION
    )
    assert store.schema_version == SCHEMA_VERSION


def test_a_newer_database_is_refused_not_damaged(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'o.db'}"
    Store(url).close()
    conn = sqlite3.connect(tmp_path / "o.db")
    conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    conn.commit()
    with pytest.raises(OrchtuiError, match="schema version 99"):
        Store(url)
    assert conn.execute("SELECT value FROM meta").fetchone()[0] == "99"


def test_ledger_lifecycle_stamps_every_transition_with_its_cause(store: Store) -> None:
    sid = _session(store)
    ledger = Ledger(store)
    cmd = ledger.enqueue(sid, "do it")
    assert cmd.id is not None
    for state in (CommandState.ISSUED, CommandState.DELIVERED, CommandState.RUNNING, CommandState.DONE):
        ledger.transition(cmd.id, state, f"because {state}")
    row = ledger.get(cmd.id)
    assert row.state == "done" and row.attempts == 1
    assert row.queued_at <= row.issued_at <= row.delivered_at <= row.running_at <= row.done_at  # type: ignore[operator]
    assert [(t.state, t.cause) for t in ledger.transitions(cmd.id)][1:] == [
        ("issued", "because issued"),
        ("delivered", "because delivered"),
        ("running", "because running"),
        ("done", "because done"),
    ]
    assert ledger.payload(cmd.id) is None  # the exact text is dropped once delivered


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        ([], CommandState.DONE),
        ([CommandState.ISSUED], CommandState.QUEUED),
        ([CommandState.ISSUED, CommandState.FAILED], CommandState.ISSUED),
        ([CommandState.CANCELLED], CommandState.ISSUED),
    ],
)
def test_illegal_transitions_are_refused(store: Store, path: list[CommandState], bad: CommandState) -> None:
    sid = _session(store)
    ledger = Ledger(store)
    cmd = ledger.enqueue(sid, "x")
    assert cmd.id is not None
    for state in path:
        ledger.transition(cmd.id, state, "test")
    before = ledger.get(cmd.id).state
    with pytest.raises(IllegalTransition):
        ledger.transition(cmd.id, bad, "test")
    assert ledger.get(cmd.id).state == before


def test_secrets_never_land_in_the_ledger_or_events(store: Store) -> None:
    sid = _session(store)
    ledger = Ledger(store)
    secret = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789"
    cmd = ledger.enqueue(
        sid, f"use ANTHROPIC_API_KEY={secret} and token ghp_abcdefghijklmnopqrstuvwxyz012345"
    )
    assert cmd.id is not None
    assert secret in (ledger.payload(cmd.id) or "")  # deliverable until delivered
    ledger.transition(cmd.id, CommandState.ISSUED, f"cause mentions {secret}")
    ledger.transition(cmd.id, CommandState.DELIVERED, "ok")
    records = Records(store)
    records.event("note", sid, f"saw {secret}", key=secret)
    dump = "\n".join(line for line in sqlite3.connect(store.url.removeprefix("sqlite:///")).iterdump())
    assert secret not in dump and "ghp_abcdefghij" not in dump
    assert "[REDACTED]" in ledger.get(cmd.id).text


def test_project_is_found_again_by_path(store: Store) -> None:
    records = Records(store)
    first = records.project_for("/r", "r", "orchtui-r")
    again = records.project_for("/r", "r", "orchtui-r")
    assert isinstance(first, Project) and first.id == again.id


def test_takeover_rows_record_start_and_end(store: Store) -> None:
    sid = _session(store)
    ledger = Ledger(store)
    cmd = ledger.record(sid, CommandKind.TAKEOVER, "takeover by me", CommandState.RUNNING, "me", "attached")
    assert cmd.running_at is not None and cmd.id is not None
    ledger.transition(cmd.id, CommandState.DONE, "detached")
    assert ledger.get(cmd.id).done_at is not None


def test_a_version_1_database_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript((Path(__file__).parent / "fixtures" / "schema_v1.sql").read_text())
    conn.commit()
    conn.close()
    store = Store(f"sqlite:///{path}")
    assert store.schema_version == SCHEMA_VERSION
    row = Records(store).session("old001")
    assert row.role is None and row.status == "idle"
    cmd = Ledger(store).get(1)
    assert cmd.text == "kept" and cmd.urgent is False


def test_a_database_fault_is_one_line_with_its_own_exit_code(tmp_path: Path) -> None:
    """A real SQLite fault (locked by another writer past the busy timeout) becomes the
    CLI's one line `database: …` and exit code 5, never `internal error` (70)."""
    from sqlalchemy import create_engine, text

    from orchtui.cli.main import store_fault

    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.commit()
    holder.execute("BEGIN EXCLUSIVE")
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.1})
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
    except Exception as exc:
        fault = store_fault(exc)
    else:
        raise AssertionError("the write went through a held lock")
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()
    assert fault is not None and fault.exit_code == 5
    assert str(fault) == "database: database is locked"
    assert store_fault(ValueError("x")) is None
