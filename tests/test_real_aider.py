"""The real aider, offline against the fake Chat Completions server, driven by orchtui."""

from __future__ import annotations

import re
from pathlib import Path

from fakellm import FakeLLM
from helpers import Orch, git, wait_for
from real_agents import real_agent, statuses, wait_status, went_through

MODEL = "openai/fake"
PRICE = (3.0, 15.0)  # $ per million tokens in, out (the test's config)


def test_aider_lifecycle_commits_and_cost(orch: Orch, fake_llm: FakeLLM, tmp_path: Path) -> None:
    (orch.repo / ".orchtui.toml").write_text(
        f'[pricing."{MODEL}"]\ninput = {PRICE[0]}\noutput = {PRICE[1]}\n'
    )
    agent = real_agent(orch, fake_llm, tmp_path, "aider")
    sid = agent.new("hello-aider")
    assert agent.status_follows_screen(sid, r"^>\s*$", "idle", timeout=90) <= 1.0

    agent.send(sid, "hello there FAKE_DELAY=3")
    assert agent.status_follows_screen(sid, r"Waiting for openai/fake", "working") <= 1.0
    assert agent.status_follows_screen(sid, r"Tokens: .* received", "idle") <= 1.0

    worktree = Path(orch.show(sid)["worktree"])
    # (FAKE_SLEEP in the file makes the commit-message call, which sees the diff, take 2 s)
    agent.send(sid, "FAKE_FILE hello.py print('hi from aider')  # FAKE_SLEEP=2")
    assert agent.status_follows_screen(sid, r"Create new file\? \(Y\)es/\(N\)o", "waiting") <= 1.0
    orch.run("session", "answer", sid, "approve")
    assert (
        agent.status_follows_screen(
            sid,
            r"(?s)Create new file.*Applied edit|Create new file\? \(Y\)es/\(N\)o \[Yes\]: y",
            "working",
        )
        <= 1.0
    )
    agent.wait(sid, lambda: (worktree / "hello.py").exists(), 30)
    wait_status(orch, sid, "idle")
    assert went_through(statuses(orch, sid), "waiting", "working", "idle")
    # aider committed by itself; orchtui records it.
    sha = git(worktree, "log", "-1", "--format=%h").strip()
    agent.wait(sid, lambda: any(sha in e["message"] for e in orch.json("events", sid)), 30)

    agent.send(sid, "FAKE_ERROR=400 please fail")
    assert agent.status_follows_screen(sid, r"litellm\.BadRequestError", "error") <= 1.0

    # Cost: aider's own token counts (it streams; the server sends no usage), priced by the table.
    history = (worktree / ".aider.chat.history.md").read_text()
    counts = [
        (int(a), int(b)) for a, b in re.findall(r"^> Tokens: (\d+) sent, (\d+) received", history, re.M)
    ]
    turns = [r for r in fake_llm.billed("chat") if r.kind == "turn"]
    assert len(counts) == len(turns) == 2
    expected = sum(i * PRICE[0] + o * PRICE[1] for i, o in counts) / 1_000_000
    wait_for(lambda: orch.json("report")["sessions"][sid]["calls"] == 2, 20)
    got = orch.json("report")["sessions"][sid]
    assert abs(got["cost"] - expected) < 1e-9, (got, expected)

    agent.send(sid, "/exit")
    wait_status(orch, sid, "exited", 30)
