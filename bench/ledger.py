"""Ledger benchmark: transitions per second through orchtui's store (`Ledger.transition`,
one transaction each, as the engine makes them), on a real SQLite file in WAL mode.

Each prompt row goes issued → delivered → running → done. Beside it, the same four
statements per transition in plain sqlite3 on a copy of the schema, as the ceiling.

    .venv/bin/python bench/ledger.py --rows 1000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from orchtui.domain import CommandState
from orchtui.store import Store
from orchtui.store.db import now
from orchtui.store.ledger import Ledger
from orchtui.store.records import Records
from orchtui.store.tables import AgentSession

STEPS = (CommandState.ISSUED, CommandState.DELIVERED, CommandState.RUNNING, CommandState.DONE)


def through_orchtui(db: Path, rows: int) -> float:
    store = Store(f"sqlite:///{db}")
    records = Records(store)
    project = records.project_for("/bench", "bench", "orchtui-bench")
    at = now()
    records.add_session(
        AgentSession(
            id="bench1",
            project_id=project.id or 0,
            agent="scripted",
            task="t",
            status="idle",
            created_at=at,
            updated_at=at,
            status_at=at,
        )
    )
    ledger = Ledger(store)
    ids = [ledger.enqueue("bench1", f"prompt {i}").id or 0 for i in range(rows)]
    start = time.perf_counter()
    for command_id in ids:
        for state in STEPS:
            ledger.transition(command_id, state, "bench")
    elapsed = time.perf_counter() - start
    store.close()
    return len(ids) * len(STEPS) / elapsed


def plain_sqlite(db: Path, rows: int) -> float:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    first = conn.execute("SELECT max(id) FROM command").fetchone()[0] or 0
    conn.executemany(
        "INSERT INTO command (session_id, kind, text, state, actor, attempts, urgent, queued_at) "
        "VALUES ('bench1', 'prompt', 'x', 'queued', 'bench', 0, 0, ?)",
        [(now(),) for _ in range(rows)],
    )
    ids = range(first + 1, first + rows + 1)
    start = time.perf_counter()
    for command_id in ids:
        for state in STEPS:
            conn.execute("BEGIN")
            conn.execute("SELECT kind, state, attempts FROM command WHERE id = ?", (command_id,)).fetchone()
            conn.execute("UPDATE command SET state = ? WHERE id = ?", (state.value, command_id))
            conn.execute(
                "INSERT INTO command_transition (command_id, state, at, cause) VALUES (?, ?, ?, 'bench')",
                (command_id, state.value, now()),
            )
            conn.execute("DELETE FROM command_payload WHERE command_id = ?", (command_id,))
            conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return rows * len(STEPS) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="orchtui-ledger-"))
    try:
        db = root / "orchtui.db"
        orchtui_rate = through_orchtui(db, args.rows)
        sqlite_rate = plain_sqlite(db, args.rows)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        json.dumps(
            {
                "transitions": args.rows * len(STEPS),
                "orchtui_per_s": round(orchtui_rate),
                "plain_sqlite3_per_s": round(sqlite_rate),
                "ratio": round(orchtui_rate / sqlite_rate, 2),
                "load_avg_1m": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
