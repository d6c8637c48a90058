"""The real Claude Code CLI, offline against the fake Anthropic server, driven by orchtui."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fakellm import FakeLLM
from helpers import Orch, wait_for
from real_agents import API_KEY, prepare_project, real_agent, statuses, wait_status, went_through

MODEL = "claude-opus-4-8"  # what Claude Code asks for by default; the fake server echoes it


def test_claude_lifecycle_hooks_cost_and_user_settings(orch: Orch, fake_llm: FakeLLM, tmp_path: Path) -> None:
    agent = real_agent(orch, fake_llm, tmp_path, "claude")
    # The user's own settings, with a hook of their own, must survive and keep firing.
    user_marker = tmp_path / "user-hook-fired.txt"
    settings = agent.home / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(
        json.dumps(
            {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": f"echo stop >> {user_marker}"}]}]}}
        )
    )
    before = settings.read_bytes()

    sid = agent.new("hello-claude")
    lag = agent.status_follows_screen(sid, r"\? for shortcuts", "idle")
    assert lag <= 1.0
    show = orch.show(sid)
    assert show["conversation_id"], "SessionStart hook gives the conversation id"

    agent.send(sid, "hello there FAKE_SLEEP=4")
    assert agent.status_follows_screen(sid, r"esc to interrupt", "working") <= 1.0
    assert agent.status_follows_screen(sid, r"Hello from the fake LLM", "idle") <= 1.0

    worktree = Path(show["worktree"])
    agent.send(sid, "FAKE_BASH sleep 2 && echo hi > hi.txt")
    assert agent.status_follows_screen(sid, r"Do you want to proceed\?", "waiting") <= 1.0
    orch.run("session", "answer", sid, "approve")
    assert agent.status_follows_screen(sid, r"Running…|esc to interrupt", "working") <= 1.0
    wait_for(lambda: (worktree / "hi.txt").exists(), 30)
    assert agent.status_follows_screen(sid, r"FAKE_DONE: tool finished", "idle") <= 1.0
    assert went_through(statuses(orch, sid), "waiting", "working", "idle")

    agent.send(sid, "FAKE_ERROR=400 please fail")
    assert agent.status_follows_screen(sid, r"API Error: 400", "error") <= 1.0
    assert "fake error 400" in (orch.show(sid)["status_detail"] or "")

    # Cost: the usage in the fake server's replies, as the transcript recorded it, priced.
    expected, calls = agent.expected_cost("anthropic", MODEL)
    assert calls == 3 and expected > 0
    wait_for(lambda: orch.json("report")["sessions"][sid]["calls"] == calls, 20)
    got = orch.json("report")["sessions"][sid]
    assert abs(got["cost"] - expected) < 1e-6, (got, expected)
    billed = [r.usage for r in fake_llm.billed("anthropic") if r.kind != "title"]
    assert got["output_tokens"] == sum(u["output_tokens"] for u in billed)
    assert got["cache_read"] == sum(u["cache_read_input_tokens"] for u in billed)

    agent.send(sid, "/exit")
    wait_status(orch, sid, "exited", 30)
    # (the exit screen comes first; on a loaded machine Claude Code's process took over 10 s to end)
    wait_for(lambda: orch.show(sid)["exit_code"] == 0, 90)
    assert orch.show(sid)["status_detail"] == "exit code 0"
    assert settings.read_bytes() == before, "the user's settings.json is untouched"
    for path in [*orch.home.glob("orchtui.db*"), orch.home / "engine.log", *orch.home.glob("events/*")]:
        assert API_KEY.encode() not in path.read_bytes(), f"the API key leaked into {path}"
    assert user_marker.exists() and user_marker.read_text().count("stop") >= 2, (
        "the user's own hook still fires"
    )
    # The statuses came from Claude Code's hooks (the screen is only the fallback).
    changes = json.dumps([e for e in orch.json("events", sid) if e["kind"] == "status"])
    for event in ("UserPromptSubmit", "PermissionRequest", "Stop", "StopFailure"):
        assert f"hook {event}" in changes, event


def test_claude_restart_resumes_the_same_conversation(orch: Orch, fake_llm: FakeLLM, tmp_path: Path) -> None:
    agent = real_agent(orch, fake_llm, tmp_path, "claude")
    sid = agent.new("resume-claude")
    wait_status(orch, sid, "idle")
    agent.send(sid, "remember the word PELICAN")
    wait_for(lambda: "PELICAN" in agent.screen(sid) and orch.status(sid) == "idle", 60)
    conversation = orch.show(sid)["conversation_id"]
    assert conversation
    saved = agent.home / ".claude" / "projects"
    wait_for(  # Claude writes the conversation as it goes; resuming needs it on disk
        lambda: any("PELICAN" in p.read_text(errors="replace") for p in saved.rglob(f"{conversation}.jsonl")),
        30,
    )

    orch.server.cmd("kill-window", "-t", orch.show(sid)["tmux_window"])
    wait_for(lambda: orch.status(sid) in ("lost", "exited"), 30)
    orch.run("session", "restart", sid)
    agent.wait(sid, lambda: orch.status(sid) == "idle")
    assert orch.show(sid)["conversation_id"] == conversation
    asked = len(fake_llm.requests)
    agent.send(sid, "what was the word")
    agent.wait(sid, lambda: len(fake_llm.requests) > asked and orch.status(sid) == "idle")
    # The resumed conversation carries the first turn: the model is shown it again.
    last = fake_llm.requests[-1]["body"]
    history = json.dumps(last.get("messages", []))
    assert "PELICAN" in history and "what was the word" in history
    # Nothing was sent twice: one ledger row per prompt, each delivered once.
    rows = orch.json("ledger", sid)
    assert [r["text"] for r in rows].count("remember the word PELICAN") == 1
    time.sleep(0)


def test_a_one_stage_run_with_real_claude_gates_after_the_turn_with_no_retries(
    orch: Orch,
    fake_llm: FakeLLM,
    tmp_path: Path,
) -> None:
    """The gate must see the file Claude writes: it runs only once Claude's turn is done
    (it used to run seconds in, before the turn started, and burn the stage's retry)."""
    from real_agents import prepare_project
    from test_turns import one_stage_book

    agent = real_agent(orch, fake_llm, tmp_path, "claude")
    fake_llm.latency = 1.0  # a real model takes a while
    settings = agent.home / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"permissions": {"allow": ["Bash"]}}))
    prepare_project(agent, agent.worktree("gate-claude"))
    book = one_stage_book(tmp_path, "claude", "FAKE_BASH sleep 3 && echo built > result.txt", "result.txt")
    orch.run("run", str(book), "--task", "gate-claude")
    run_id = orch.json("runs")[0]["id"]
    waited = orch.run("wait", "--run", run_id, "--for", "done", "--timeout", "180", check=False)
    run = orch.json("runs")[0]
    assert waited.returncode == 0 and run["state"] == "done", (waited.stderr, run)
    events = orch.json("events")
    assert not [e for e in events if e["kind"] in ("gate.failed", "stage.retry")]
    (row,) = [r for r in orch.json("ledger") if r["actor"].startswith("run:")]
    assert [t["state"] for t in row["transitions"]] == ["queued", "issued", "delivered", "running", "done"]


def test_restart_before_claude_saved_anything_starts_a_new_conversation(
    orch: Orch,
    fake_llm: FakeLLM,
    tmp_path: Path,
) -> None:
    """A window killed before Claude wrote its conversation leaves nothing to resume:
    `claude --resume ID` would end at once ("No conversation found"). The restart starts
    a new conversation instead, and says so."""
    agent = real_agent(orch, fake_llm, tmp_path, "claude")
    sid = agent.new("unsaved-claude")
    wait_status(orch, sid, "idle")
    conversation = wait_for(lambda: orch.show(sid)["conversation_id"], 30)
    assert not list((agent.home / ".claude" / "projects").rglob(f"{conversation}.jsonl"))
    orch.server.cmd("kill-window", "-t", orch.show(sid)["tmux_window"])
    wait_for(lambda: orch.status(sid) in ("lost", "exited"), 30)
    orch.run("session", "restart", sid)
    agent.wait(sid, lambda: orch.status(sid) == "idle")
    restarted = [e["message"] for e in orch.json("events", sid) if e["kind"] == "session.restarted"]
    assert restarted and f"kept no saved conversation {conversation}" in restarted[-1], restarted
    agent.send(sid, "hello again")
    agent.wait(sid, lambda: orch.ledger_rows(sid)[-1].state == "done")


def test_fork_resumes_a_copy_of_the_conversation_in_a_new_worktree(
    orch: Orch, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    """`session fork`: a new worktree branched from the session's branch, where Claude
    Code resumes a copy of the conversation (`--fork-session`, a new id); the original
    goes on untouched."""
    agent = real_agent(orch, fake_llm, tmp_path, "claude")
    prepare_project(agent, agent.worktree("fork-claude-fork"))  # before any Claude rewrites its state
    sid = agent.new("fork-claude")
    wait_status(orch, sid, "idle")
    agent.send(sid, "remember the word PELICAN")
    wait_for(lambda: "PELICAN" in agent.screen(sid) and orch.status(sid) == "idle", 60)
    conversation = orch.show(sid)["conversation_id"]
    saved = agent.home / ".claude" / "projects"
    wait_for(
        lambda: any("PELICAN" in p.read_text(errors="replace") for p in saved.rglob(f"{conversation}.jsonl")),
        30,
    )
    forked = orch.json("session", "fork", sid)
    assert forked["conversation_copied"] is True and forked["task"] == "fork-claude-fork"
    fid = forked["id"]
    assert forked["branch"] == "orchtui/fork-claude-fork" and Path(forked["worktree"]).is_dir()
    agent.wait(fid, lambda: orch.status(fid) == "idle")
    asked = len(fake_llm.requests)
    agent.send(fid, "what was the word")
    agent.wait(fid, lambda: len(fake_llm.requests) > asked and orch.status(fid) == "idle")
    history = json.dumps(fake_llm.requests[-1]["body"].get("messages", []))
    assert "PELICAN" in history and "what was the word" in history
    # the copy goes on under its own id (Claude names it once the fork's first turn is written)
    wait_for(lambda: orch.show(fid)["conversation_id"] not in (None, conversation), 30)
    copies = [p for p in saved.rglob("*.jsonl") if "what was the word" in p.read_text(errors="replace")]
    assert copies and all(p.stem != conversation for p in copies)
    assert orch.status(sid) == "idle" and orch.show(sid)["conversation_id"] == conversation
