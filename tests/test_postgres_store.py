"""orchtui as a whole (CLI, engine, scripted agent in real tmux) on a real PostgreSQL
server instead of SQLite: nothing in it assumes a file database."""

from __future__ import annotations

from helpers import Orch


def test_a_session_runs_its_prompts_on_postgresql(orch: Orch, postgres_url: str) -> None:
    orch.env["ORCHTUI_DB_URL"] = postgres_url
    sid = orch.new("pg-task")
    orch.run("session", "send", sid, "hello from postgres")
    orch.run("session", "send", sid, "dirty")
    orch.run("wait", sid, "--for", "done", "--timeout", "90")
    rows = [(r["text"], r["state"]) for r in orch.json("ledger", sid)]
    assert rows == [("hello from postgres", "done"), ("dirty", "done")], rows
    assert [s["id"] for s in orch.json("session", "list")] == [sid]
    statuses = [e["message"] for e in orch.json("events", sid) if e["kind"] == "status"]
    assert any("working" in m for m in statuses) and any(m.endswith("idle") for m in statuses), statuses
    report = orch.run("session", "kill", sid, "--force")
    assert report.returncode == 0
    assert orch.json("session", "list", "--all")[0]["status"] == "killed"
    assert not (orch.home / "orchtui.db").exists(), "nothing went to a SQLite file"
