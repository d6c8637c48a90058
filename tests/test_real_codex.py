"""The real Codex CLI, offline against the fake Responses server, driven by orchtui."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Orch, wait_for
from fakellm import FakeLLM
from orchtui.pricing import Price
from real_agents import fake_llm, real_agent, statuses, wait_status, went_through  # noqa: F401 (fixture)

MODEL = "fake-model"


def test_codex_lifecycle_cost_and_resume(orch: Orch, fake_llm: FakeLLM, tmp_path: Path) -> None:  # noqa: F811
    # Codex's price: the user's config adds the model to the pricing table.
    (orch.repo / ".orchtui.toml").write_text(
        f'[pricing."{MODEL}"]\ninput = 2.0\noutput = 8.0\ncache_read = 0.5\n'
    )
    agent = real_agent(orch, fake_llm, tmp_path, "codex")
    sid = agent.new("hello-codex")
    assert agent.status_follows_screen(sid, r"^› Ask Codex to do anything", "idle") <= 1.0

    agent.send(sid, "hello there FAKE_SLEEP=4")
    # Codex shows "Working (… esc to interrupt)" until the reply streams, then the reply.
    working = r"(?s)esc to interrupt|^• Hello from(?!.*Worked for)"
    assert agent.status_follows_screen(sid, working, "working") <= 1.0
    assert agent.status_follows_screen(sid, r"Worked for", "idle") <= 1.0

    outside = tmp_path / "outside.txt"
    call = {
        "cmd": f"sleep 2 && touch {outside}",
        "sandbox_permissions": "require_escalated",
        "justification": "May I?",
    }
    agent.send(sid, f"FAKE_TOOL exec_command {json.dumps(call)}")
    assert (
        agent.status_follows_screen(sid, r"Would you like to run the following command\?", "waiting") <= 1.0
    )
    orch.run("session", "answer", sid, "approve")
    assert (
        agent.status_follows_screen(
            sid, r"(?s)You approved codex(?!.*Worked for 0s)(?!.*FAKE_DONE)", "working"
        )
        <= 1.0
    )
    wait_for(outside.exists, 30)
    assert agent.status_follows_screen(sid, r"FAKE_DONE: tool finished", "idle") <= 1.0
    assert went_through(statuses(orch, sid), "waiting", "working", "idle")

    agent.send(sid, "FAKE_ERROR=400 please fail")
    assert agent.status_follows_screen(sid, r"^■ ", "error") <= 1.0

    expected, calls = agent.expected_cost(
        "responses", MODEL, {MODEL: Price(input=2.0, output=8.0, cache_read=0.5)}
    )
    assert calls == 3 and expected > 0
    wait_for(lambda: orch.json("report")["sessions"][sid]["calls"] == calls, 20)
    got = orch.json("report")["sessions"][sid]
    assert abs(got["cost"] - expected) < 1e-6, (got, expected)
    conversation = orch.show(sid)["conversation_id"]
    assert conversation, "the rollout transcript names the conversation"

    # Kill its window; restart resumes the exact conversation (`codex resume <id>`).
    orch.server.cmd("kill-window", "-t", orch.show(sid)["tmux_window"])
    wait_for(lambda: orch.status(sid) in ("lost", "exited"), 30)
    orch.run("session", "restart", sid)
    # At its prompt again; the resumed screen may show the failed last turn (status error).
    agent.wait(sid, lambda: orch.status(sid) in ("idle", "error"))
    asked = len(fake_llm.requests)
    agent.send(sid, "and now?")
    agent.wait(sid, lambda: len(fake_llm.requests) > asked and orch.status(sid) == "idle")
    assert "and now?" in json.dumps([r["body"] for r in fake_llm.requests if r["body"].get("tools")][-1])
    turns = [r["body"] for r in fake_llm.requests if r["body"].get("tools")]  # not the title request
    history = json.dumps(turns[-1].get("input", []))
    assert "hello there FAKE_SLEEP=4" in history, "the resumed conversation carries the first turn"
    assert orch.show(sid)["conversation_id"] == conversation

    agent.send(sid, "/exit")
    wait_status(orch, sid, "exited", 30)
