"""The real Gemini CLI, offline against the fake server's generateContent wire format,
driven by orchtui: status from its screen, cost from its chat file, exact resume."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Orch, wait_for
from fakellm import FakeLLM
from orchtui.pricing import Price
from real_agents import fake_llm, real_agent, statuses, wait_status, went_through  # noqa: F401 (fixture)

PRICE = Price(input=2.0, output=12.0, cache_read=0.2)


def test_gemini_lifecycle_cost_and_resume(orch: Orch, fake_llm: FakeLLM, tmp_path: Path) -> None:  # noqa: F811
    # Gemini 3 models are not in the shipped table yet: the user's config prices them.
    (orch.repo / ".orchtui.toml").write_text(
        '[pricing."gemini-3*"]\ninput = 2.0\noutput = 12.0\ncache_read = 0.2\n'
    )
    agent = real_agent(orch, fake_llm, tmp_path, "gemini")
    sid = agent.new("hello-gemini")
    assert agent.status_follows_screen(sid, r"Type your message", "idle") <= 1.0

    agent.send(sid, "hello there FAKE_SLEEP=4")
    assert agent.status_follows_screen(sid, r"esc to cancel", "working") <= 1.0
    assert agent.status_follows_screen(sid, r"Hello from the fake LLM", "idle") <= 1.5
    wait_for(lambda: orch.ledger_rows(sid)[0].state == "done", 20)
    states = [t["state"] for t in orch.json("ledger", sid)[0]["transitions"]]
    assert states == ["queued", "issued", "delivered", "running", "done"]

    worktree = Path(orch.show(sid)["worktree"])
    agent.send(sid, "FAKE_BASH sleep 2 && echo hi > hi.txt")
    assert agent.status_follows_screen(sid, r"Allow execution of", "waiting") <= 1.0
    orch.run("session", "answer", sid, "approve")
    wait_for(lambda: (worktree / "hi.txt").exists(), 30)
    assert agent.status_follows_screen(sid, r"FAKE_DONE: tool finished", "idle") <= 1.5
    assert went_through(statuses(orch, sid), "waiting", "working", "idle")

    agent.send(sid, "FAKE_ERROR=401 please fail")
    assert agent.status_follows_screen(sid, r"API Error", "error") <= 1.0
    wait_for(lambda: orch.ledger_rows(sid)[-1].state == "failed", 20)

    # Cost: the usage of the main turns (the chat file records those, not the model-routing
    # side requests), priced from the user's table.
    expected, calls = agent.expected_cost("gemini", "gemini-3-any", {"gemini-3*": PRICE})
    assert calls == 3 and expected > 0
    wait_for(lambda: orch.json("report")["sessions"][sid]["calls"] == calls, 20)
    got = orch.json("report")["sessions"][sid]
    assert abs(got["cost"] - expected) < 1e-6, (got, expected)
    conversation = orch.show(sid)["conversation_id"]
    assert conversation, "the chat file names the conversation"

    # Kill its window; restart resumes the exact conversation (`gemini --resume <id>`).
    orch.server.cmd("kill-window", "-t", orch.show(sid)["tmux_window"])
    wait_for(lambda: orch.status(sid) in ("lost", "exited"), 30)
    orch.run("session", "restart", sid)
    agent.wait(sid, lambda: orch.status(sid) == "idle")
    asked = len(fake_llm.requests)
    agent.send(sid, "and now?")
    agent.wait(sid, lambda: len(fake_llm.requests) > asked and orch.status(sid) == "idle")
    turns = [r["body"] for r in fake_llm.requests if r["body"].get("tools")]  # not the side requests
    history = json.dumps(turns[-1].get("contents", []))
    assert "and now?" in history and "hello there FAKE_SLEEP=4" in history, "the first turn is carried"
    assert orch.show(sid)["conversation_id"] == conversation

    agent.send(sid, "/quit")
    wait_status(orch, sid, "exited", 30)
    wait_for(lambda: orch.show(sid)["exit_code"] == 0, 10)
