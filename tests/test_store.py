"""The store on a real SQLite file: WAL, schema version, ledger rules, redaction."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlmodel import SQLModel

from orchtui.domain import (
    ApprovalState,
    CommandKind,
    CommandState,
    MergeState,
    RunState,
    SessionStatus,
    StageState,
    WorktreeState,
)
from orchtui.errors import NotFound, OrchtuiError
from orchtui.store import Store, fast
from orchtui.store.db import SCHEMA_VERSION, is_busy, now, ready_for_fork
from orchtui.store.ledger import IllegalTransition, Ledger
from orchtui.store.merges import Merges
from orchtui.store.records import Records
from orchtui.store.runs import Runs
from orchtui.store.tables import AgentSession, Merge, Project, Run, Usage, Worktree
from orchtui.store.usage import UsageBook
from orchtui.store.vetting import Vettings


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'o.db'}")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The same store on SQLite and on a real PostgreSQL server (tests/postgres.py)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'o.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    opened = Store(url, key_file=tmp_path / "payload.key")
    yield opened
    opened.close()


def dump(store: Store) -> str:
    """Every row of every table, as text (what a thief of the database would read)."""
    lines = []
    with store.sql.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            lines += [repr(tuple(row)) for row in conn.execute(table.select())]
    return "\n".join(lines)


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


def test_sqlite_runs_in_wal_mode_with_a_schema_version(sqlite_store: Store, tmp_path: Path) -> None:
    store = sqlite_store
    _session(store)
    conn = sqlite3.connect(tmp_path / "o.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(
        SCHEMA_VERSION
    )
    assert store.schema_version == SCHEMA_VERSION


def test_a_newer_database_is_refused_not_damaged(store: Store, tmp_path: Path) -> None:
    with store.sql.begin() as conn:
        conn.execute(text("UPDATE meta SET value='99' WHERE key='schema_version'"))
    with pytest.raises(OrchtuiError, match="schema version 99"):
        Store(store.url, key_file=tmp_path / "payload.key")
    assert store.schema_version == 99


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
    records.add_event("note", sid, f"saw {secret}", key=secret)
    everything = dump(store)
    assert secret not in everything and "ghp_abcdefghij" not in everything
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


def test_a_version_10_approval_survives_and_an_approval_may_be_about_a_session(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'o.db'}"
    Store(url).close()
    conn = sqlite3.connect(tmp_path / "o.db")
    conn.executescript(
        """
        DROP TABLE approval;
        CREATE TABLE approval (id INTEGER PRIMARY KEY, run_id VARCHAR NOT NULL REFERENCES run (id),
            stage VARCHAR NOT NULL, action VARCHAR NOT NULL, shown VARCHAR NOT NULL,
            state VARCHAR NOT NULL, reason VARCHAR, who VARCHAR, created_at FLOAT NOT NULL,
            decided_at FLOAT);
        CREATE INDEX ix_approval_run_id ON approval (run_id);
        CREATE INDEX ix_approval_state ON approval (state);
        INSERT INTO project (id, path, name, tmux_session, created_at) VALUES (1, '/r', 'r', 'orchtui-r', 0);
        INSERT INTO run (id, project_id, playbook, playbook_path, task, state, attempt,
            created_at, updated_at) VALUES ('r1', 1, 'p', '/p.yaml', 't', 'waiting', 1, 0, 0);
        INSERT INTO approval (run_id, stage, action, shown, state, created_at)
            VALUES ('r1', 'build', 'start', '{}', 'pending', 5);
        UPDATE meta SET value = '10' WHERE key = 'schema_version';
        """
    )
    conn.commit()
    conn.close()
    store = Store(url)
    assert store.schema_version == SCHEMA_VERSION
    runs = Runs(store)
    [kept] = runs.approvals()
    assert (kept.run_id, kept.stage, kept.action, kept.state, kept.session_id) == (
        "r1",
        "build",
        "start",
        "pending",
        None,
    )
    asked = runs.request_session_approval("abc123", "merge", {"proposal": "land it"}, "mcp:sup")
    assert asked.run_id is None and asked.session_id == "abc123" and asked.state == "pending"


def test_every_store_reads_back_what_it_wrote(store: Store) -> None:
    """Sessions, worktrees, events, runs with stages and approvals, usage, merges and
    vetting: the same answers from SQLite and PostgreSQL."""
    sid = _session(store)
    records, runs, usage, merges = Records(store), Runs(store), UsageBook(store), Merges(store)
    project = records.project_for("/repo", "repo", "orchtui-repo")
    wt = records.add_worktree(
        Worktree(
            project_id=project.id or 0,
            path="/wt",
            branch="orchtui/t",
            base="main",
            state=WorktreeState.ACTIVE,
            created_at=now(),
        )
    )
    records.update_session(sid, worktree_id=wt.id, status=SessionStatus.WORKING)
    assert [s.id for s in records.sessions(live_only=True)] == [sid]
    assert records.session(sid).status == SessionStatus.WORKING
    first = records.last_event_id()
    records.add_event("status", sid, "idle -> working")
    records.add_event("note", None, "later")
    assert [e.message for e in records.events_after(first)] == ["idle -> working", "later"]
    assert records.last_event_id() == first + 2

    runs.add(
        Run(
            id="r1",
            project_id=project.id or 0,
            playbook="p",
            playbook_path="/p.yaml",
            task="t",
            state=RunState.RUNNING,
            created_at=now(),
            updated_at=now(),
        )
    )
    runs.open_stage("r1", "build")
    runs.open_stage("r1", "build")  # once
    runs.update_stage("r1", "build", state=StageState.DONE, detail="ok")
    assert [(s.stage, s.state) for s in runs.stages("r1")] == [("build", StageState.DONE)]
    asked = runs.request_approval("r1", "test", "start", {"plan": []})
    assert runs.request_approval("r1", "test", "start", {"plan": []}).id == asked.id
    about = runs.request_session_approval(sid, "merge", {"proposal": "land"}, "mcp:x")
    runs.answer(asked.id or 0, True, "me")
    assert [(a.id, a.state) for a in runs.approvals(pending_only=True)] == [(about.id, ApprovalState.PENDING)]
    assert runs.approval(about.id or 0).session_id == sid

    row = Usage(
        session_id=sid,
        key="m1",
        agent="scripted",
        model="fake",
        at=now(),
        input_tokens=10,
        output_tokens=5,
        cost=0.25,
    )
    assert len(usage.add([row])) == 1
    again = Usage(session_id=sid, key="m1", agent="scripted", model="fake", at=now(), cost=9.0)
    assert usage.add([again]) == []  # counted once
    assert usage.spent(session_id=sid) == pytest.approx(0.25)

    merge = merges.add(
        Merge(
            project_id=project.id or 0,
            worktree_id=wt.id or 0,
            session_id=sid,
            source="orchtui/t",
            target="main",
            strategy="merge",
            state=MergeState.RESOLVING,
            old_tip="a" * 40,
            source_tip="b" * 40,
            created_at=now(),
        )
    )
    assert merges.open_for_worktree(wt.id or 0) is not None
    merges.update(merge.id or 0, state=MergeState.MERGED, commit="c" * 40)
    assert merges.open_for_worktree(wt.id or 0) is None

    Vettings(store).add("lint-fix", "1", "d" * 64, "me")
    assert Vettings(store).vetted_digests() == {("lint-fix", "d" * 64)}


def test_a_version_10_postgresql_database_moves_to_session_approvals(
    postgres_url: str, tmp_path: Path
) -> None:
    store = Store(postgres_url, key_file=tmp_path / "payload.key")
    with store.sql.begin() as conn:
        conn.execute(text("DROP TABLE approval"))
        conn.execute(
            text(
                "CREATE TABLE approval (id SERIAL PRIMARY KEY, run_id VARCHAR NOT NULL REFERENCES run (id),"
                " stage VARCHAR NOT NULL, action VARCHAR NOT NULL, shown VARCHAR NOT NULL,"
                " state VARCHAR NOT NULL, reason VARCHAR, who VARCHAR, created_at FLOAT NOT NULL,"
                " decided_at FLOAT)"
            )
        )
        conn.execute(text("UPDATE meta SET value = '10' WHERE key = 'schema_version'"))
    store.close()
    store = Store(postgres_url, key_file=tmp_path / "payload.key")
    assert store.schema_version == SCHEMA_VERSION
    sid = _session(store)
    assert Runs(store).request_session_approval(sid, "merge", {}, "mcp:x").run_id is None
    store.close()


def test_an_engine_readied_before_a_fork_is_taken_by_the_next_store_for_its_url_only(
    sqlite_store: Store, tmp_path: Path
) -> None:
    """The warm CLI process readies its engine (statements compiled, no connection open)
    and each forked child's first Store takes it."""
    store = sqlite_store
    sid = _session(store)
    assert [r.id for r in Records(store).sessions()] == [sid]
    ready_for_fork(store)
    assert store.sql.pool.checkedout() == 0  # nothing a child could share
    child = Store(store.url, key_file=tmp_path / "payload.key")
    assert child.sql is store.sql
    assert [r.id for r in Records(child).sessions()] == [sid]  # a connection of its own
    other = Store(store.url, key_file=tmp_path / "payload.key")
    assert other.sql is not store.sql
    elsewhere = Store(f"sqlite:///{tmp_path / 'other.db'}", key_file=tmp_path / "payload.key")
    assert elsewhere.sql is not store.sql
    other.close()
    elsewhere.close()


def test_a_status_change_is_written_with_its_event_or_refused_whole(store: Store) -> None:
    """Records.change_status runs on the driver's cursor (store/fast.py), on both stores."""
    records = Records(store)
    sid = _session(store)
    assert records.change_status(sid, "idle", "working", "screen: busy", log_offset=42)
    row = records.session(sid)
    assert (row.status, row.status_detail, row.log_offset) == ("working", "screen: busy", 42)
    events = records.events(sid, "status")
    assert [json.loads(e.data) for e in events] == [
        {"old": "idle", "new": "working", "detail": "screen: busy"}
    ]
    assert events[0].at == row.status_at == row.updated_at
    with pytest.raises(ValueError):  # not a status: refused before anything is written
        records.change_status(sid, "working", "sleepy", "?")
    with pytest.raises(NotFound):
        records.change_status("nobody", "idle", "working", "?")
    records.update_session(sid, status=SessionStatus.KILLED)
    assert not records.change_status(sid, "working", "idle", "screen: prompt")  # the kill stands
    assert records.session(sid).status == SessionStatus.KILLED
    assert len(records.events(sid, "status")) == 1


def test_a_locked_store_is_busy_and_a_failed_block_writes_nothing(tmp_path: Path) -> None:
    """A driver's error from store/fast.py is SQLAlchemy's, so the engine retries a locked
    store (Boundary) instead of calling it a bug; a block that raises is rolled back."""
    db = tmp_path / "f.db"
    sql = create_engine(f"sqlite:///{db}", connect_args={"timeout": 0.05})
    with sql.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    add = fast.Prepared(text("INSERT INTO t (x) VALUES (:x)"))
    with pytest.raises(RuntimeError), fast.transaction(sql) as cur:
        cur.execute(add, {"x": 1})
        raise RuntimeError("half way")
    holder = sqlite3.connect(db)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(OperationalError) as caught, fast.transaction(sql) as cur:
            cur.execute(add, {"x": 2})
        assert is_busy(caught.value)
    finally:
        holder.rollback()
        holder.close()
    with fast.transaction(sql) as cur:
        cur.execute(add, {"x": 3})
    with sql.connect() as conn:
        assert conn.execute(text("SELECT x FROM t")).scalars().all() == [3]
    sql.dispose()
