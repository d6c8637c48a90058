"""A supervisor that is a real agent: the real Claude Code, started by orchtui with
orchtui's MCP server for its session only, against the fake model server whose replies
are `tool_use` blocks naming orchtui's tools. It starts a scripted worker, instructs it,
waits for it and reads its answer, through the same rules as the operator."""

from __future__ import annotations

import json
from pathlib import Path

from fakellm import FakeLLM
from helpers import Orch
from real_agents import prepare_project, real_agent


def test_a_real_claude_supervisor_starts_instructs_waits_for_and_reads_a_worker(
    orch: Orch, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    agent = real_agent(orch, fake_llm, tmp_path, "claude")
    prepare_project(agent, agent.worktree("boss"))
    user_state = json.loads((agent.home / ".claude.json").read_text())
    # A first start on a fresh machine: an empty bytecode cache (and none written) makes the
    # engine, and the supervisor's MCP server under Claude Code, compile every module they import.
    # Claude Code takes the prompt before that server has connected; the prompt must wait for it.
    cold = {"PYTHONPYCACHEPREFIX": str(tmp_path / "empty-pycache"), "PYTHONDONTWRITEBYTECODE": "1"}
    boss = str(
        orch.json("session", "new", "--agent", "claude", "--task", "boss", "--supervisor", env=cold)["id"]
    )
    agent.wait(boss, lambda: orch.status(boss) == "idle", 120)

    plan = [
        {"name": "mcp__orchtui__create_session", "input": {"task": "worker", "agent": "scripted"}},
        {"name": "mcp__orchtui__send_command", "input": {"session_id": "@0.id", "text": "hello worker"}},
        {
            "name": "mcp__orchtui__wait_for",
            "input": {"session_id": "@0.id", "status": "done", "timeout": 120},
        },
        {"name": "mcp__orchtui__read_session_output", "input": {"session_id": "@0.id", "lines": 20}},
    ]
    agent.send(boss, "Run one worker for me. FAKE_PLAN " + json.dumps(plan))
    agent.wait(boss, lambda: "FAKE_DONE" in agent.screen(boss), 240)
    assert "plan finished" in agent.screen(boss), agent.screen(boss)

    [worker] = [s for s in orch.json("session", "list") if s["task"] == "worker"]
    assert worker["agent"] == "scripted" and worker["worktree"] != orch.show(boss)["worktree"]
    prompts = [r for r in orch.ledger_rows(worker["id"]) if r.kind == "prompt"]
    assert [(p.text, p.state) for p in prompts] == [("hello worker", "done")]
    assert prompts[0].actor.startswith("mcp:") and prompts[0].actor != "mcp:client", prompts[0].actor
    delivered = [
        e
        for e in orch.transcript(worker["id"])
        if e.get("type") == "prompt" and e.get("text") == "hello worker"
    ]
    assert len(delivered) == 1, "the worker got the prompt exactly once"

    # the supervisor's own transcript holds the tools' results, the worker's answer among them
    [transcript] = (agent.home / ".claude" / "projects").glob("*boss*/*.jsonl")
    results = [
        json.dumps(block)
        for line in transcript.read_text().splitlines()
        for block in (json.loads(line).get("message") or {}).get("content") or []
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]
    assert len(results) == 4, results
    assert worker["id"] in results[0] and "Echo: hello worker" in results[3], results
    assert not any('"is_error": true' in r for r in results), results

    # the user's own Claude settings are untouched: the server is this session's only
    state = json.loads((agent.home / ".claude.json").read_text())
    assert "mcpServers" not in state and "mcpServers" not in state.get("projects", {}).get(
        str(agent.worktree("boss")), {}
    )
    assert user_state.get("mcpServers") == state.get("mcpServers")
    assert not (agent.home / ".claude" / "settings.json").exists()
