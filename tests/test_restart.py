"""kill -9 of the engine while agents run: a new start re-adopts everything."""

from __future__ import annotations

import os
import signal

from conftest import Orch, wait_for


def test_kill9_engine_then_restart_readopts_without_duplicates_or_resends(orch: Orch) -> None:
    a = orch.new("alpha")
    b = orch.new("beta")
    orch.wait_status(a, "idle")
    orch.wait_status(b, "idle")
    orch.run("session", "send", a, "first for alpha")
    wait_for(lambda: orch.ledger_rows(a)[0].state == "done")
    orch.run("session", "send", b, "slow job for beta")
    wait_for(lambda: orch.ledger_rows(b)[0].state == "running")
    windows = sorted(orch.windows())
    pid = orch.engine_pid()
    assert pid is not None

    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: orch.engine_pid() is None, timeout=10)
    # While orchtui is down the agent keeps working and finishes (its output goes to the log).
    wait_for(lambda: any(e["type"] == "marker" for e in orch.transcript(b)), timeout=15)
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
    for sid, text in ((a, "first for alpha"), (b, "slow job for beta")):
        assert [e["text"] for e in orch.transcript(sid) if e["type"] == "prompt"] == [text]
    states = [t["state"] for t in orch.json("ledger", b)[0]["transitions"]]
    assert states == ["queued", "issued", "delivered", "running", "done"]

    # The re-adopted sessions are fully driven again.
    orch.run("session", "send", a, "after restart")
    wait_for(lambda: orch.ledger_rows(a)[-1].state == "done")
    assert [e["text"] for e in orch.transcript(a) if e["type"] == "prompt"][-1] == "after restart"


def test_window_closed_while_engine_down_is_marked_lost(orch: Orch) -> None:
    sid = orch.new("gone")
    orch.wait_status(sid, "idle")
    orch.run("session", "send", sid, "slow job", "--no-wait")
    window = orch.show(sid)["tmux_window"]  # (asking the CLI now would start the engine again)
    orch.run("engine", "stop")
    orch.server.cmd("kill-window", "-t", window)
    orch.run("engine", "start")
    orch.wait_status(sid, "lost")
    assert orch.ledger_rows(sid)[0].state in ("failed", "cancelled")
