"""kill -9 of the engine while agents run: a new start re-adopts everything."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import text as sql

from helpers import Orch, wait_for
from orchtui.domain import CommandState
from orchtui.store.ledger import Ledger


def test_kill9_engine_then_restart_readopts_without_duplicates_or_resends(orch: Orch) -> None:
    a = orch.new("alpha")
    b = orch.new("beta")
    orch.wait_status(a, "idle")
    orch.wait_status(b, "idle")
    orch.run("session", "send", a, "first for alpha")
    wait_for(lambda: orch.ledger_rows(a)[0].state == "done")
    orch.run("session", "send", b, "long job for beta")
    wait_for(lambda: orch.ledger_rows(b)[0].state == "running")
    windows = sorted(orch.windows())
    pid = orch.engine_pid()
    assert pid is not None

    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: orch.engine_pid() is None, timeout=10)
    # While orchtui is down the agent keeps working and finishes (its output goes to the log).
    # (8 s of work: the kill lands first even on a busy machine)
    wait_for(lambda: any(e["type"] == "marker" for e in orch.transcript(b)), timeout=30)
    assert orch.status(b) == "working"  # nobody was watching

    listed = {s["id"]: s for s in orch.json("session", "list")}  # starts a new engine
    new_pid = orch.engine_pid()
    assert new_pid is not None and new_pid != pid
    assert set(listed) == {a, b}
    orch.wait_status(b, "idle")
    wait_for(lambda: orch.ledger_rows(b)[0].state == "done")
    assert sorted(orch.windows()) == windows  # re-adopted, never recreated
    assert orch.status(a) == "idle"

    # Each prompt reached its agent exactly once, and the ledger kept every step.
    for sid, text in ((a, "first for alpha"), (b, "long job for beta")):
        assert [e["text"] for e in orch.transcript(sid) if e["type"] == "prompt"] == [text]
    states = [t["state"] for t in orch.json("ledger", b)[0]["transitions"]]
    assert states == ["queued", "issued", "delivered", "running", "done"]

    # The re-adopted sessions are fully driven again.
    orch.run("session", "send", a, "after restart")
    wait_for(lambda: orch.ledger_rows(a)[-1].state == "done")
    assert [e["text"] for e in orch.transcript(a) if e["type"] == "prompt"][-1] == "after restart"


def test_row_caught_before_its_enter_is_emptied_not_glued_to_the_next(orch: Orch) -> None:
    """orchtui died after pasting a prompt and before pressing Enter. The log it had not
    yet saved its place in still holds the previous turn's completion marker: that is no
    evidence the pasted prompt was taken. The input line is emptied, the row failed, and
    the next prompt reaches the agent alone."""
    sid = orch.new("paste-only")
    orch.wait_status(sid, "idle")
    orch.run("session", "send", sid, "first")
    wait_for(lambda: orch.ledger_rows(sid)[0].state == "done")
    pane = orch.show(sid)["tmux_pane"]
    pid = orch.engine_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: orch.engine_pid() is None, timeout=10)
    store = orch.store
    try:
        with store.sql.begin() as conn:  # its place in the log is saved on status changes only
            conn.execute(sql("UPDATE agent_session SET log_offset = 0 WHERE id = :id"), {"id": sid})
        ledger = Ledger(store)
        caught = ledger.enqueue(sid, "second, pasted only", actor="test")
        assert caught.id is not None
        ledger.transition(caught.id, CommandState.ISSUED, "delivering (then orchtui died)")
        orch.server.cmd("set-buffer", "-b", "t", "second, pasted only")
        orch.server.cmd("paste-buffer", "-p", "-d", "-b", "t", "-t", pane)
        wait_for(
            lambda: (
                "second, pasted only" in "\n".join(orch.server.cmd("capture-pane", "-p", "-t", pane).stdout)
            )
        )
        ledger.enqueue(sid, "third", actor="test")
    finally:
        store.close()
    orch.run("engine", "start")
    wait_for(lambda: [r.state for r in orch.ledger_rows(sid)] == ["done", "failed", "done"], timeout=60)
    assert [e["text"] for e in orch.transcript(sid) if e["type"] == "prompt"] == ["first", "third"]
    failed = next(r for r in orch.json("ledger", sid) if r["id"] == caught.id)
    assert "before pressing Enter" in failed["transitions"][-1]["cause"]


def test_window_closed_while_engine_down_is_marked_lost(orch: Orch) -> None:
    sid = orch.new("gone")
    orch.wait_status(sid, "idle")
    orch.run("session", "send", sid, "very slow job", "--no-wait")
    window = orch.show(sid)["tmux_window"]  # (asking the CLI now would start the engine again)
    orch.run("engine", "stop")
    orch.server.cmd("kill-window", "-t", window)
    orch.run("engine", "start")
    orch.wait_status(sid, "lost")
    assert orch.ledger_rows(sid)[0].state in ("failed", "cancelled")


@pytest.mark.timeout(1200)  # twenty kill -9 rounds: ~4 min on a busy 2-core machine
@pytest.mark.parametrize("seed", [20, 21])  # two runs of 10 kills: side by side on two test workers
def test_kill9_during_dense_sends_never_glues_loses_or_repeats_a_prompt(
    orch: Orch, tmp_path: Path, seed: int
) -> None:
    """10 kill -9s of the engine while prompts stream to 4 agents. Every prompt either
    reached its agent exactly once, alone, and is `done`, or never reached it and its row
    says `failed`: no prompt glued to another, none delivered twice, none lost silently."""
    scenario = tmp_path / "dense.toml"
    scenario.write_text('turn_delay = 0.2\n[[rule]]\nmatch = ""\nsteps = [{ work = 0.2 }, { say = "ok" }]\n')
    orch.env["ORCHTUI_SCRIPTED_SCENARIO"] = str(scenario)
    sids = [orch.new(f"dense{i}") for i in range(4)]
    for sid in sids:
        orch.wait_status(sid, "idle")
    rng = random.Random(seed)
    sent: dict[str, str] = {}  # text -> session
    store = orch.store
    ledger = Ledger(store)
    wake = orch.home / "run" / "wake"
    try:
        for kill in range(10):
            for sid in sids:
                for _ in range(2):
                    text = f"P{len(sent):03d} " + "x" * rng.randint(5, 300)
                    ledger.enqueue(sid, text, actor="test")
                    sent[text] = sid
            with wake.open("a") as fh:
                fh.write("test\n")
            time.sleep(rng.uniform(0.2, 1.5))
            pid = orch.engine_pid()
            assert pid is not None, f"kill {kill}: no engine"
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda: orch.engine_pid() is None, timeout=10)
            orch.run("engine", "start")
        wait_for(lambda: all(CommandState(r.state).final for r in orch.ledger_rows()), timeout=240)
        rows = {r.text: r for r in orch.ledger_rows()}
    finally:
        store.close()
    received = [e["text"] for sid in sids for e in orch.transcript(sid) if e["type"] == "prompt"]
    glued = [p for p in received if p not in sent]
    twice = [t for t in sent if received.count(t) > 1]
    silently_lost = [t for t in sent if t not in received and rows[t].state != "failed"]
    false_failed = [t for t in sent if t in received and rows[t].state == "failed"]
    false_done = [t for t in sent if t not in received and rows[t].state == "done"]
    failed = [t for t in sent if rows[t].state == "failed"]
    print(
        f"kill -9 x10, {len(sent)} prompts to 4 agents: {len(received)} received, "
        f"{len(failed)} failed (true), glued {len(glued)}, twice {len(twice)}, "
        f"lost silently {len(silently_lost)}, failed but received {len(false_failed)}, "
        f"done but never received {len(false_done)}"
    )
    assert not glued, glued[:3]
    assert not twice, twice[:3]
    assert not silently_lost, [(t[:8], rows[t].state) for t in silently_lost]
    assert not false_failed, [(t[:8], orch.json("ledger", sent[t])) for t in false_failed[:1]]
    assert not false_done, false_done[:3]
    for sid in sids:
        got = [e["text"] for e in orch.transcript(sid) if e["type"] == "prompt"]
        assert got == [t for t in sent if sent[t] == sid and t in got], "each agent got its prompts in order"
