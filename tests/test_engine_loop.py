"""The engine's loop never blocks and never dies: a stage's slow setup command runs in a
worker while other agents' prompts go through, and a database another process holds
locked for seconds only delays the store's writes: every status and ledger row catches
up afterwards, with the same engine process."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from helpers import Orch, wait_for

QUICK = 'name = "quick"\n[[rule]]\nsteps = [{ work = 0.5 }, { say = "did {prompt}" }]\n'


def test_a_slow_setup_command_does_not_hold_up_other_agents(orch: Orch, tmp_path: Path) -> None:
    """A run's agent whose worktree setup sleeps 20 s is made in a worker: meanwhile a
    prompt to another agent is delivered, worked and done (its ledger row ends before
    the slow session exists). With the setup on the loop, nothing moved for 20 s."""
    scenario = tmp_path / "quick.toml"
    scenario.write_text(QUICK)
    orch.env["ORCHTUI_SCRIPTED_SCENARIO"] = str(scenario)
    orch.env["ORCHTUI_WORKTREES__SETUP_COMMAND"] = 'case "$PWD" in *slowsetup*) sleep 20;; esac'
    sid = orch.new("quick")
    orch.wait_status(sid, "idle", timeout=60)
    book = tmp_path / "slow.yaml"
    book.write_text(
        "name: slow\nstages:\n  - id: work\n    automation: fully_auto\n"
        "    roles:\n      - {role: a, agents: [scripted], prompt: hello}\n"
    )
    run_id = orch.run("run", str(book), "--task", "slowsetup").stdout.split()[0]
    wait_for(lambda: any(orch.home.rglob("slowsetup")), timeout=60)  # its worktree is made: setup runs
    orch.run("session", "send", sid, "ping", "--no-wait")
    wait_for(lambda: orch.json("runs")[0]["state"] == "done", timeout=180, interval=0.5)
    ping = next(r for r in orch.ledger_rows(sid) if r.text == "ping")
    slow = next(s for s in orch.json("session", "list", "--all") if s["task"].startswith("slowsetup"))
    store = orch.store
    try:
        from orchtui.store.records import Records

        made = Records(store).session(slow["id"]).created_at
    finally:
        store.close()
    assert ping.state == "done" and ping.done_at is not None
    assert ping.done_at < made, f"the prompt ended {ping.done_at - made:.1f}s after the slow session was made"
    assert run_id


LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN EXCLUSIVE")
db.execute("UPDATE meta SET value = value")  # a write: the engine's snapshots go stale
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


def test_a_database_locked_by_another_process_delays_but_loses_nothing(orch: Orch, tmp_path: Path) -> None:
    """Two agents work through two prompts each while another process holds the
    database's write lock for 10 s: afterwards every row is done, every status is idle,
    and the engine that started is the one still running."""
    scenario = tmp_path / "steady.toml"
    scenario.write_text('name = "steady"\n[[rule]]\nsteps = [{ work = 3 }, { say = "did {prompt}" }]\n')
    orch.env["ORCHTUI_SCRIPTED_SCENARIO"] = str(scenario)
    sessions = [orch.new("locked-a"), orch.new("locked-b")]
    for sid in sessions:
        orch.wait_status(sid, "idle", timeout=60)
    pid = orch.engine_pid()
    assert pid is not None
    for sid in sessions:
        for n in (1, 2):
            orch.run("session", "send", sid, f"task {n}", "--no-wait")
    wait_for(lambda: any(r.state == "running" for r in orch.ledger_rows()), timeout=60)
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK, str(orch.home / "orchtui.db"), "10"], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    locked_at = time.time()
    assert holder.wait(timeout=60) == 0
    assert time.time() - locked_at >= 9.5

    def caught_up() -> bool:
        rows = [r for r in orch.ledger_rows() if r.text.startswith("task ")]
        return len(rows) == 4 and all(r.state == "done" for r in rows)

    wait_for(caught_up, timeout=120, interval=0.5)
    for sid in sessions:
        orch.wait_status(sid, "idle", timeout=60)
    assert orch.engine_pid() == pid  # the same engine: it never exited
    errors = [e for e in orch.json("events") if e["kind"] == "engine.error"]
    assert errors == [], errors
