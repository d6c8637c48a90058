"""Takeover from the CLI: `session attach` inside a terminal (a pane of a second tmux
server), the operator types to the agent, detaches, and the ledger has both ends."""

from __future__ import annotations

from libtmux import Server

from helpers import Orch, pane_text, run_in_terminal, wait_for


def test_attach_types_to_the_agent_and_records_takeover(orch: Orch, terminal: Server) -> None:
    sid = orch.new("handson")
    orch.wait_status(sid, "idle")
    run_in_terminal(terminal, orch, "session", "attach", sid)
    wait_for(lambda: "Scripted agent" in pane_text(terminal), timeout=20)
    wait_for(lambda: orch.show(sid)["taken_over"], timeout=10)

    # a prompt queued by someone else waits while the operator has the session
    orch.run("session", "send", sid, "queued meanwhile", "--no-wait")
    terminal.cmd("send-keys", "-t", "term", "-l", "typed by hand")
    terminal.cmd("send-keys", "-t", "term", "Enter")
    wait_for(lambda: [e for e in orch.transcript(sid) if e["type"] == "prompt"], timeout=10)
    assert [e["text"] for e in orch.transcript(sid) if e["type"] == "prompt"] == ["typed by hand"]
    queued = [r for r in orch.ledger_rows(sid) if r.kind == "prompt"]
    assert [r.state for r in queued] == ["queued"]

    orch.server.cmd("detach-client", "-s", orch.show(sid)["tmux_session"])
    wait_for(lambda: f"Handed {sid} back" in pane_text(terminal), timeout=10)
    assert not orch.show(sid)["taken_over"]
    rows = orch.json("ledger", sid)
    takeover = next(r for r in rows if r["kind"] == "takeover")
    assert takeover["state"] == "done" and takeover["actor"]
    assert [t["state"] for t in takeover["transitions"]] == ["running", "done"]
    assert "operator" in takeover["transitions"][0]["cause"]
    # handed back: the queued prompt now goes out, after the operator's own turn
    wait_for(lambda: [r.state for r in orch.ledger_rows(sid) if r.kind == "prompt"] == ["done"], timeout=20)
    prompts = [e["text"] for e in orch.transcript(sid) if e["type"] == "prompt"]
    assert prompts == ["typed by hand", "queued meanwhile"]
    assert [e["kind"] for e in orch.json("events", sid) if e["kind"].startswith("takeover")] == [
        "takeover.start",
        "takeover.end",
    ]
