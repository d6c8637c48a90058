"""orchtui's own agent, through the real `anthropic` SDK against the fake Messages API on
127.0.0.1: a multi-turn tool run, confinement, the bash timeout, the iteration cap,
simple mode (not streamed), usage into the cost tracker, and the run_bash permission
prompt answered from orchtui while it runs in tmux."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from fakellm import FakeLLM
from helpers import Orch, git, wait_for
from orchtui.agents.tools import BASH_TIMEOUT, ToolError, Workspace
from orchtui.store.usage import UsageBook
from real_agents import statuses, went_through

KEY = "sk-ant-builtin-test-key"


def plan(*steps: tuple[str, dict[str, Any]]) -> str:
    return "FAKE_PLAN " + json.dumps([{"name": n, "input": i} for n, i in steps])


def agent(fake: FakeLLM, worktree: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC", "ORCHTUI_"))}
    env.update(
        {"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": KEY, "ORCHTUI_HOME": str(worktree.parent / "h")}
    )
    return subprocess.run(
        [sys.executable, "-m", "orchtui", "agent", "--worktree", str(worktree), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def tool_results(fake: FakeLLM) -> list[dict[str, Any]]:
    last = fake.requests[-1]["body"]["messages"]
    return [
        b
        for m in last
        if isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") == "tool_result"
    ]


def test_a_multi_turn_run_lists_reads_writes_and_runs_a_command(fake_llm: FakeLLM, repo: Path) -> None:
    prompt = plan(
        ("list_files", {}),
        ("read_file", {"path": "README.md"}),
        ("write_file", {"path": "notes/out.txt", "content": "written by the agent\n"}),
        ("search_files", {"pattern": "agent"}),
        ("run_bash", {"command": "cat notes/out.txt | wc -l"}),
    )
    transcript = repo.parent / "t.jsonl"
    proc = agent(fake_llm, repo, "--prompt", prompt, "--allow-bash", "--transcript", str(transcript))
    assert proc.returncode == 0, proc.stderr
    assert (repo / "notes" / "out.txt").read_text() == "written by the agent\n"
    requests = [r for r in fake_llm.requests if r["path"].endswith("/messages")]
    assert len(requests) == 6 and all(r["body"]["stream"] for r in requests)  # 5 tool turns + the end
    assert {t["name"] for t in requests[0]["body"]["tools"]} == {
        "list_files",
        "read_file",
        "write_file",
        "search_files",
        "run_bash",
    }
    results = [str(r["content"]) for r in tool_results(fake_llm)]
    assert "README.md" in results[0] and results[1] == "# project\n"
    assert results[2] == "wrote notes/out.txt (21 characters)"
    assert results[3] == "notes/out.txt:1: written by the agent"
    assert results[4] == "1\n[exit 0]"
    assert "FAKE_DONE: plan finished" in proc.stdout and "✔ Done." in proc.stdout
    usage = [json.loads(line) for line in transcript.read_text().splitlines() if '"usage"' in line]
    billed = fake_llm.billed("anthropic")
    assert [u["input_tokens"] for u in usage] == [r.usage["input_tokens"] for r in billed]
    assert KEY not in transcript.read_text()


def test_paths_outside_the_worktree_are_refused(fake_llm: FakeLLM, repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("secret\n")
    (repo / "link").symlink_to(outside)
    prompt = plan(
        ("read_file", {"path": "../secret.txt"}),
        ("read_file", {"path": str(outside)}),
        ("read_file", {"path": "link"}),
        ("write_file", {"path": "../escape.txt", "content": "x"}),
        ("list_files", {"path": "/"}),
    )
    proc = agent(fake_llm, repo, "--prompt", prompt)
    assert proc.returncode == 0, proc.stderr
    results = tool_results(fake_llm)
    assert all(r["is_error"] and "outside the worktree; refused" in str(r["content"]) for r in results)
    assert not (tmp_path / "escape.txt").exists() and outside.read_text() == "secret\n"
    assert "secret" not in json.dumps(fake_llm.requests[-1]["body"]["messages"]).replace("secret.txt", "")


def test_workspace_confinement_and_the_bash_limits(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert BASH_TIMEOUT == 30
    ws = Workspace(repo, bash_timeout=1)
    (repo / "up").symlink_to(tmp_path)
    (tmp_path / "other.txt").write_text("outside\n")
    for bad in ("../x", "/etc/passwd", "up/other.txt", "up"):
        with pytest.raises(ToolError, match="outside the worktree"):
            ws.call("read_file", {"path": bad})
    started = time.monotonic()
    out = ws.call("run_bash", {"command": "sleep 30 & sleep 30; echo never"})
    assert "[killed: the command ran longer than 1s]" in out and "never" not in out
    assert time.monotonic() - started < 10
    assert ws.call("run_bash", {"command": "head -c 100000 /dev/zero | tr '\\0' a"}).count("truncated") == 1
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    assert KEY not in ws.call("run_bash", {"command": "env"})


def test_the_iteration_cap_is_honoured(fake_llm: FakeLLM, repo: Path) -> None:
    proc = agent(fake_llm, repo, "--prompt", "FAKE_LOOP forever", "--max-iterations", "3")
    assert proc.returncode == 0, proc.stderr
    assert len([r for r in fake_llm.requests if r["path"].endswith("/messages")]) == 3
    assert "reached the iteration cap (3 model calls)" in proc.stdout


def test_simple_mode_writes_the_skill_output_without_streaming(fake_llm: FakeLLM, repo: Path) -> None:
    proc = agent(fake_llm, repo, "--skill", "plan-task", "--simple", "--prompt", "plan the login page")
    assert proc.returncode == 0, proc.stderr
    body = fake_llm.requests[-1]["body"]
    assert not body.get("stream") and "tools" not in body
    assert body["system"].startswith("# Plan a task") and "README.md" in body["system"]
    assert (repo / "PLAN.md").read_text() == "Hello from the fake LLM. You said: plan the login page"
    api_error = agent(fake_llm, repo, "--prompt", "FAKE_ERROR=500 please")
    assert api_error.returncode == 1 and "✖ Error" in api_error.stdout


def test_in_tmux_bash_waits_for_permission_and_usage_reaches_the_cost(
    orch: Orch,
    fake_llm: FakeLLM,
) -> None:
    orch.env.update({"ANTHROPIC_BASE_URL": fake_llm.url, "ANTHROPIC_API_KEY": KEY})
    prompt = plan(("run_bash", {"command": "echo from-bash > bash.txt"}), ("list_files", {}))
    sid = orch.new("builtin", "orchtui", "--prompt", prompt)
    orch.wait_status(sid, "waiting", timeout=60)
    screen = orch.run("session", "show", sid, "--screen").stdout
    assert "Allow run_bash: echo from-bash > bash.txt [y/n]" in screen
    orch.run("session", "answer", sid, "approve")
    orch.wait_status(sid, "idle", timeout=60)
    wt = Path(orch.show(sid)["worktree"])
    assert (wt / "bash.txt").read_text() == "from-bash\n"
    assert went_through(statuses(orch, sid), "working", "waiting", "working", "idle")
    hooked = [e for e in orch.json("events", sid) if e["kind"] == "status"]
    assert any("hook PermissionRequest" in str(e["data"].get("detail", "")) + e["message"] for e in hooked)
    billed = fake_llm.billed("anthropic")

    def recorded() -> list[Any]:
        store = orch.store
        try:
            return UsageBook(store).rows(session_id=sid)
        finally:
            store.close()

    rows = wait_for(lambda: len(recorded()) == len(billed) and recorded(), timeout=30)
    assert sum(r.input_tokens for r in rows) == sum(b.usage["input_tokens"] for b in billed)
    assert git(wt, "status", "--porcelain").strip() == "?? bash.txt"


def test_a_command_that_outlives_30_seconds_is_killed(fake_llm: FakeLLM, repo: Path) -> None:
    started = time.monotonic()
    prompt = plan(("run_bash", {"command": "sleep 45; echo never"}))
    proc = agent(fake_llm, repo, "--prompt", prompt, "--allow-bash")
    assert proc.returncode == 0, proc.stderr
    assert 29 < time.monotonic() - started < 44
    (result,) = tool_results(fake_llm)
    assert result["content"] == "[killed: the command ran longer than 30s]"


def test_a_stage_that_allows_bash_runs_commands_without_asking(
    orch: Orch,
    fake_llm: FakeLLM,
    tmp_path: Path,
) -> None:
    orch.env.update({"ANTHROPIC_BASE_URL": fake_llm.url, "ANTHROPIC_API_KEY": KEY})
    book = tmp_path / "bash.yaml"
    prompt = plan(("run_bash", {"command": "echo allowed > allowed.txt"}))
    book.write_text(
        "name: bash\nstages:\n  - id: work\n    automation: fully_auto\n    allow_bash: true\n"
        f"    roles: [{{role: dev, agents: [orchtui], prompt: {json.dumps(prompt)}}}]\n"
        "    gates: [{type: file_exists, path: allowed.txt}]\n"
    )
    orch.run("run", str(book), "--task", "allowed")  # the prompt's JSON braces stay as written
    wait_for(lambda: orch.json("runs")[0]["state"] == "done", timeout=90, interval=0.3)
    sid = next(s["id"] for s in orch.json("session", "list", "--all") if s["role"] == "dev")
    assert "waiting" not in statuses(orch, sid)
