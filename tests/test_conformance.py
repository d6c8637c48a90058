"""The real-client conformance matrix: Claude Code, Codex, aider and Gemini CLI, each
offline against the fake server, through the same scenarios. Every cell asserts the
status timeline and the ledger timeline (`queued → issued → delivered → running →
done|failed`, with `running` recorded before the agent's first model request for that
prompt has finished), and the conversation's cost equals the agent's own transcript.

Each cell's outcome and the lag between what the agent showed and orchtui's status are
written to `$ORCHTUI_MATRIX_DIR` (default: the test's tmp dir); `scripts/conformance`
runs this file and prints the matrix.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from fakellm import FakeLLM, prompt_of
from helpers import Orch, wait_for
from orchtui.pricing import Price
from real_agents import RealAgent, real_agent

METACHARS = "$(touch PWNED) `id` \"dq\" 'sq' ; | & > < * ? ~ \\ %s {x} #{pane_id} ünï ✓"
LITERAL = f"{METACHARS}\nline two\nline three " + "x" * 5000


@dataclass(frozen=True)
class Client:
    """How one client is steered through the scenarios (fake-server words, its screens)."""

    name: str
    protocol: str
    model: str  # a name the price below matches
    price: Price
    idle: str  # its idle screen
    write: Callable[[Path], str]  # a prompt whose tool call writes written.txt
    write_asks: bool  # the client asks permission before that write
    ask: Callable[[Path, str], str]  # a prompt whose tool call needs permission and writes that file
    quit: str = "/exit"
    resumes: bool = True


def _tool(name: str, args: dict[str, Any]) -> str:
    return f"FAKE_TOOL {name} {json.dumps(args)}"


CLIENTS = {
    "claude": Client(
        "claude",
        "anthropic",
        "claude-opus-4-8",
        Price(input=5.0, output=25.0, cache_read=0.5, cache_write=6.25),
        r"\? for shortcuts",
        lambda wt: _tool("Write", {"file_path": str(wt / "written.txt"), "content": "written\n"}),
        False,  # the user's settings allow Write (below)
        lambda wt, name: f"FAKE_BASH touch {wt / name}",
    ),
    "codex": Client(
        "codex",
        "responses",
        "fake-model",
        Price(input=2.0, output=8.0, cache_read=0.5),
        r"^› ",
        lambda wt: "FAKE_BASH echo written > written.txt",  # inside its sandbox: no question
        False,
        lambda wt, name: _tool(
            "exec_command",
            {"cmd": f"touch {name}", "sandbox_permissions": "require_escalated", "justification": "May I?"},
        ),
    ),
    "aider": Client(
        "aider",
        "chat",
        "openai/fake",
        Price(input=3.0, output=15.0),
        r"^>\s*$",
        lambda wt: "FAKE_FILE written.txt written",
        True,  # aider asks before it creates a file
        lambda wt, name: f"FAKE_FILE {name} asked",
        resumes=False,
    ),
    "gemini": Client(
        "gemini",
        "gemini",
        "gemini-3-any",
        Price(input=2.0, output=12.0, cache_read=0.2),
        r"Type your message",
        lambda wt: _tool("write_file", {"file_path": str(wt / "written.txt"), "content": "written\n"}),
        True,
        lambda wt, name: f"FAKE_BASH touch {wt / name}",
        quit="/quit",
    ),
}


@dataclass
class Matrix:
    client: str
    out: Path
    cells: dict[str, str] = field(default_factory=dict)
    lags: list[dict[str, Any]] = field(default_factory=list)  # {"what": start|end, "ms": lag}

    def cell(self, name: str, check: Callable[[], None]) -> None:
        try:
            check()
        except BaseException as exc:
            self.cells[name] = f"FAIL: {str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}"
            self.save()
            raise
        self.cells[name] = "ok"
        self.save()

    def save(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / f"{self.client}.json"
        old = json.loads(path.read_text()) if path.exists() else {"cells": {}, "lags": []}
        old["cells"].update(self.cells)
        old["lags"] = old["lags"] + self.lags
        path.write_text(json.dumps(old, indent=1))
        self.lags = []


@pytest.fixture
def matrix_dir(tmp_path: Path) -> Path:
    return Path(os.environ.get("ORCHTUI_MATRIX_DIR") or tmp_path / "matrix")


def setup_client(orch: Orch, fake: FakeLLM, tmp_path: Path, client: Client) -> RealAgent:
    price = client.price
    glob = client.model if client.name != "gemini" else "gemini-3*"
    fields = [f"{k} = {v}" for k, v in price.model_dump().items() if v is not None]
    (orch.repo / ".orchtui.toml").write_text(f'[pricing."{glob}"]\n' + "\n".join(fields) + "\n")
    agent = real_agent(orch, fake, tmp_path, client.name)
    fake.latency = 1.0  # a real model takes a second or more before its first byte
    orch.env["CLAUDE_CODE_MAX_RETRIES"] = "3"  # Claude retries an API error 10 times by default
    if client.name == "claude":
        settings = agent.home / ".claude" / "settings.json"
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(json.dumps({"permissions": {"allow": ["Write"]}}))
    return agent


def ledger_states(orch: Orch, sid: str, index: int = -1) -> list[str]:
    return [t["state"] for t in orch.json("ledger", sid)[index]["transitions"]]


def prompt_rows(orch: Orch, sid: str) -> list[dict[str, Any]]:
    return [r for r in orch.json("ledger", sid) if r["kind"] == "prompt"]


def statuses_since(orch: Orch, sid: str, since: float) -> list[str]:
    from datetime import datetime

    return [
        e["data"]["new"]
        for e in orch.json("events", sid)
        if e["kind"] == "status" and datetime.fromisoformat(e["at"]).timestamp() >= since
    ]


def in_order(seen: list[str], *path: str) -> bool:
    it = iter(seen)
    return all(any(s == step for s in it) for step in path)


def running_before_first_reply(orch: Orch, fake: FakeLLM, row: dict[str, Any], text: str) -> None:
    """`running` was recorded before the agent's first model request for this prompt had
    its reply (so a gate or the next prompt never sees a turn that is not yet running)."""
    from datetime import datetime

    running = next(t for t in row["transitions"] if t["state"] == "running")
    at = datetime.fromisoformat(running["at"]).timestamp()
    queued = datetime.fromisoformat(row["queued_at"]).timestamp()
    firsts = [done for t, done, prompt in fake.prompts() if t >= queued and text[:40] in prompt]
    assert firsts, f"the model never saw {text[:40]!r}"
    first_done = firsts[0] or time.time()
    assert at <= first_done + 0.05, f"running {at - first_done:+.2f}s after the first reply"


def record_lags(matrix: Matrix, orch: Orch, fake: FakeLLM, sid: str, since: float) -> None:
    """How far orchtui's status trailed the agent's own acts: its first model request of
    the turn (the agent is working) and the end of its last reply (it is done)."""
    from datetime import datetime

    changes = [
        (datetime.fromisoformat(e["at"]).timestamp(), e["data"]["new"])
        for e in orch.json("events", sid)
        if e["kind"] == "status"
    ]
    changes = [(t, s) for t, s in changes if t >= since]
    requests = [(t, done) for t, done, _p in fake.prompts() if t >= since and done is not None]
    working = [t for t, s in changes if s in ("working", "waiting")]
    settled = [t for t, s in changes if s in ("idle", "error")]
    if requests and working:
        matrix.lags.append({"what": "start", "ms": 1000 * (working[0] - requests[0][0])})
    if requests and settled:
        matrix.lags.append({"what": "end", "ms": 1000 * (settled[-1] - max(d for _t, d in requests))})


def turn(
    matrix: Matrix,
    agent: RealAgent,
    sid: str,
    text: str,
    answer: str | None = None,
    final: str = "done",
    path: tuple[str, ...] = ("working", "idle"),
    timeout: float = 90.0,
) -> dict[str, Any]:
    """Send one prompt, answer a permission if asked, wait for its row to be final, and
    check its ledger and status timelines."""
    orch = agent.orch
    before = len(prompt_rows(orch, sid))
    since = time.time()
    agent.send(sid, text)
    if answer is not None:
        agent.wait(sid, lambda: orch.status(sid) == "waiting", timeout)
        orch.run("session", "answer", sid, answer)
    agent.wait(
        sid,
        lambda: (
            len(prompt_rows(orch, sid)) > before
            and prompt_rows(orch, sid)[before]["state"] in ("done", "failed")
        ),
        timeout,
    )
    row = prompt_rows(orch, sid)[before]
    assert row["state"] == final, (row["state"], row["transitions"][-1]["cause"])
    expected = ["queued", "issued", "delivered", "running", final]
    assert [t["state"] for t in row["transitions"]] == expected, row["transitions"]
    running_before_first_reply(orch, agent.fake, row, text)
    if final == "done":
        agent.wait(sid, lambda: orch.status(sid) == "idle", 30)
    seen = statuses_since(orch, sid, since)
    assert in_order(seen, *path), (seen, path)
    if answer != "reject":  # (after a rejection, the time to idle includes the operator's)
        record_lags(matrix, orch, agent.fake, sid, since)
    if final == "done" and answer != "reject":
        assert "error" not in seen, seen
    return row


@pytest.mark.timeout(
    1200
)  # a dozen real turns: ~3 min on a busy 2-core machine, far more when it is overloaded
@pytest.mark.parametrize("name", sorted(CLIENTS))
def test_conformance_conversation(
    name: str,
    orch: Orch,
    fake_llm: FakeLLM,
    tmp_path: Path,
    matrix_dir: Path,
) -> None:
    client = CLIENTS[name]
    matrix = Matrix(name, matrix_dir)
    agent = setup_client(orch, fake_llm, tmp_path, client)
    sid = agent.new(f"conf-{name}")
    agent.status_follows_screen(sid, client.idle, "idle", timeout=90)
    wt = agent.worktree(f"conf-{name}")

    def write() -> None:
        answer = "approve" if client.write_asks else None
        path = ("working", "waiting", "working", "idle") if client.write_asks else ("working", "idle")
        turn(matrix, agent, sid, client.write(wt), answer=answer, path=path)
        wait_for(lambda: (wt / "written.txt").exists(), 20)

    def approved() -> None:
        turn(
            matrix,
            agent,
            sid,
            client.ask(wt, "asked.txt"),
            answer="approve",
            path=("working", "waiting", "working", "idle"),
        )
        wait_for(lambda: (wt / "asked.txt").exists(), 20)

    def rejected() -> None:
        row = turn(
            matrix,
            agent,
            sid,
            client.ask(wt, "refused.txt"),
            answer="reject",
            path=("working", "waiting", "idle"),
        )
        assert not (wt / "refused.txt").exists(), "a rejected tool call ran"
        assert orch.status(sid) == "idle", "a rejection is not an error"
        assert row["error"] is None

    def retried() -> None:
        turn(matrix, agent, sid, "FAKE_ERROR=500x2 then recover", timeout=120)

    def auth() -> None:
        turn(
            matrix,
            agent,
            sid,
            "FAKE_ERROR=401 FAKE_DELAY=1 no key",
            final="failed",
            path=("working", "error"),
            timeout=180,
        )
        assert orch.status(sid) == "error"
        warned = [e for e in orch.json("events", sid) if e["kind"] == "agent.error"]
        assert warned and warned[-1]["severity"] == "warning"

    def literal() -> None:
        turn(matrix, agent, sid, LITERAL)
        received = [prompt_of(r["body"]) for r in agent.fake.requests if _is_turn_start(r["body"])]
        received = [p for p in received if "line three" in p]
        assert len(received) == 1, f"the turn was started {len(received)} times"
        got = received[0]
        if client.name == "aider":  # aider appends its edit-format reminder to the user's text
            got = got[: len(LITERAL)]
        assert got.strip() == LITERAL.strip(), "not delivered literally"
        assert not (wt / "PWNED").exists() and not (orch.repo / "PWNED").exists()

    def cost() -> None:
        expected, calls = agent.expected_cost(client.protocol, client.model, {client.model: client.price})
        if client.name == "aider":  # aider's own counts (the server streams no usage to it)
            history = (wt / ".aider.chat.history.md").read_text()
            found = re.findall(r"^> Tokens: (\S+) sent, (\S+) received", history, re.M)
            counts = [_aider_count(pair) for pair in found]
            calls = len(counts)
            expected = sum(i * client.price.input + o * client.price.output for i, o in counts) / 1e6
        assert calls > 0
        wait_for(lambda: orch.json("report")["sessions"][sid]["calls"] == calls, 30)
        got = orch.json("report")["sessions"][sid]["cost"]
        assert abs(got - expected) < 1e-6, (got, expected)

    for cell, check in (
        ("tool writes a file", write),
        ("permission approved", approved),
        ("permission rejected", rejected),
        ("API 500, retried, recovers", retried),
        ("literal text (metacharacters, 3 lines, 5,000 chars)", literal),
        ("auth error 401", auth),
        ("cost equals transcript", cost),
    ):
        matrix.cell(cell, check)

    conversation = orch.show(sid)["conversation_id"]

    def exits() -> None:
        since = time.time()
        agent.send(sid, client.quit)
        agent.wait(sid, lambda: orch.status(sid) == "exited", 60)
        # (the exit screen comes first; Gemini CLI's process can take 20 s or more to end)
        wait_for(lambda: orch.show(sid)["exit_code"] == 0, 90)
        assert in_order(statuses_since(orch, sid, since), "exited")
        row = prompt_rows(orch, sid)[-1]
        assert row["state"] == "failed" and "exited" in row["transitions"][-1]["cause"], row["transitions"]

    def resumed() -> None:
        if not client.resumes:
            pytest.skip("aider keeps no conversation to resume")
        orch.run("session", "restart", sid)
        agent.wait(sid, lambda: orch.status(sid) == "idle", 90)
        assert orch.show(sid)["conversation_id"] == conversation
        turn(matrix, agent, sid, "what did I write first?")
        asked = [r["body"] for r in agent.fake.requests if _is_turn_start(r["body"])]
        asked = [b for b in asked if prompt_of(b).strip() == "what did I write first?"]
        assert asked, "the model never received the prompt after the restart"
        assert "then recover" in json.dumps(asked[-1]), "the earlier turns are not carried"

    def killed() -> None:
        if orch.status(sid) not in ("idle", "working", "waiting", "error"):
            orch.run("session", "restart", sid)
            agent.wait(sid, lambda: orch.status(sid) == "idle", 90)
        orch.server.cmd("kill-window", "-t", orch.show(sid)["tmux_window"])
        agent.wait(sid, lambda: orch.status(sid) in ("lost", "exited"), 30)
        kinds = [e["kind"] for e in orch.json("events", sid)]
        assert "agent.lost" in kinds or "agent.exited" in kinds, kinds

    for cell, check in (
        ("agent exits", exits),
        ("restart resumes the conversation", resumed),
        ("window killed", killed),
    ):
        try:
            matrix.cell(cell, check)
        except pytest.skip.Exception:
            matrix.cells[cell] = "n/a"
            matrix.save()


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", sorted(CLIENTS))
def test_conformance_queue_waits_while_busy(
    name: str,
    orch: Orch,
    fake_llm: FakeLLM,
    tmp_path: Path,
    matrix_dir: Path,
) -> None:
    """Three agents busy; a second prompt queued to each while it works waits, then is
    delivered exactly once."""
    client = CLIENTS[name]
    matrix = Matrix(name, matrix_dir)
    agent = setup_client(orch, fake_llm, tmp_path, client)
    from real_agents import prepare_project

    for i in range(3):  # trusted before any starts: a running Claude rewrites ~/.claude.json
        prepare_project(agent, agent.worktree(f"busy-{name}-{i}"))
    sids = [agent.new(f"busy-{name}-{i}") for i in range(3)]

    def check() -> None:
        for sid in sids:
            agent.wait(sid, lambda sid=sid: orch.status(sid) == "idle", 90)
        for i, sid in enumerate(sids):
            agent.send(sid, f"first {i} FAKE_SLEEP=25")  # busy long enough, even on a loaded machine
        for sid in sids:
            agent.wait(sid, lambda sid=sid: orch.status(sid) == "working", 60)
        for i, sid in enumerate(sids):
            agent.send(sid, f"second {i}")
            first, second = prompt_rows(orch, sid)
            assert (first["state"], second["state"]) == ("running", "queued"), (
                first,
                orch.json("events", sid),
            )
        for sid in sids:
            agent.wait(
                sid, lambda sid=sid: [r["state"] for r in prompt_rows(orch, sid)] == ["done", "done"], 90
            )
            first, second = prompt_rows(orch, sid)
            assert second["issued_at"] >= first["done_at"], (
                "the second prompt went out before the first ended"
            )
            assert [t["state"] for t in second["transitions"]] == [
                "queued",
                "issued",
                "delivered",
                "running",
                "done",
            ]
        received = sorted(
            prompt_of(r["body"]).split("\n")[0].strip()  # (aider appends its format reminder)
            for r in agent.fake.requests
            if prompt_of(r["body"]).startswith("second ") and _is_turn_start(r["body"])
        )
        assert received == ["second 0", "second 1", "second 2"], received

    matrix.cell("second prompt waits while busy, delivered once (3 agents)", check)


def _aider_count(pair: tuple[str, str]) -> tuple[int, int]:
    """aider prints `1.6k` above a thousand tokens."""

    def one(text: str) -> int:
        return round(float(text[:-1]) * 1000) if text.endswith("k") else int(text)

    return one(pair[0]), one(pair[1])


def _is_turn_start(body: dict[str, Any]) -> bool:
    """The request that opened a turn (not a tool result's follow-up or a side request)."""
    if "contents" in body:
        return bool(body.get("tools")) and not any(
            "functionResponse" in p for p in (body["contents"][-1].get("parts") or [])
        )
    if "input" in body:
        items = body["input"] if isinstance(body["input"], list) else []
        return bool(body.get("tools")) and (not items or items[-1].get("type") != "function_call_output")
    messages = body.get("messages") or []
    last = messages[-1] if messages else {}
    content = last.get("content")
    if isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content
    ):
        return False
    return bool(body.get("stream", True)) and not (body.get("output_config") or {}).get("format")
