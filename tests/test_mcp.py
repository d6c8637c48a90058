"""`orchtui mcp` through the MCP SDK's own client, over stdio and over streamable HTTP,
against real tmux, git and SQLite: every tool, a full supervised loop whose every step is
in the ledger once, and the governance a client cannot get around."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import Implementation

from helpers import Orch, git, wait_for
from orchtui.domain import MCP_TOOLS, CommandKind
from test_runs import playbook_copy

EVERY_TOOL = {tool for tools in MCP_TOOLS.values() for tool in tools}
CLIENT = "test-supervisor"


class ToolFailed(Exception):
    pass


@pytest.fixture
def http_server(orch: Orch) -> Iterator[tuple[str, str]]:
    """`orchtui mcp --http` on a free port of 127.0.0.1: (url, token)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = "t0k3n-for-the-mcp-tests-0123456789"
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchtui", "mcp", "--http", "--port", str(port), "--token", token],
        cwd=orch.repo,
        env=orch.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def listening() -> bool:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_for(listening, timeout=60)
        yield f"http://127.0.0.1:{port}/mcp", token
    finally:
        proc.terminate()
        proc.wait(20)


@asynccontextmanager
async def connect(orch: Orch, http: tuple[str, str] | None, name: str = CLIENT) -> AsyncIterator[Client]:
    info = Implementation(name=name, version="1.0")
    if http is None:
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "orchtui", "mcp"], env=orch.env, cwd=str(orch.repo)
        )
        async with Client(params, client_info=info, read_timeout_seconds=120) as client:
            yield client
        return
    url, token = http
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=120) as web:
        transport = streamable_http_client(url, http_client=web)
        async with Client(transport, client_info=info, read_timeout_seconds=120) as client:
            yield client


async def call(client: Client, tool: str, **args: Any) -> Any:
    result = await client.call_tool(tool, args)
    text = " ".join(getattr(c, "text", "") for c in result.content)
    if result.is_error:
        raise ToolFailed(text)
    data = result.structured_content
    assert data is not None, text
    return data["result"] if set(data) == {"result"} else data


async def refused(client: Client, tool: str, **args: Any) -> str:
    with pytest.raises(ToolFailed) as caught:
        await call(client, tool, **args)
    return str(caught.value)


async def the_loop(orch: Orch, client: Client, playbook: Path) -> None:
    listed = {t.name for t in (await client.list_tools()).tools}
    assert listed == EVERY_TOOL

    # A. planning: nothing starts
    plan = await call(
        client, "plan_stage_allocation", stage="build", requested_parallelism=2, playbook=str(playbook)
    )
    assert plan["fillable"] and plan["roles"][0]["count"] == 2 and plan["roles"][0]["profile"] == "scripted"
    proposal = await call(
        client, "propose_stage_execution", stage="build", task="feature", playbook=str(playbook)
    )
    assert proposal["asks_a_person"] and proposal["needs"] == ["plan"] and proposal["plan"]["fillable"]
    assert orch.json("session", "list") == []

    # C. a worktree of its own; a protected branch is not a worktree's branch
    wt = await call(client, "create_worktree", task="side", branch="orchtui/side-work")
    assert Path(wt["path"]).is_dir() and wt["branch"] == "orchtui/side-work"
    assert "protected" in await refused(client, "create_worktree", task="bad", branch="main")

    # B. a worker: start, instruct, wait, read
    worker = await call(client, "create_session", task="loop", agent="scripted")
    sid = worker["id"]
    sent = await call(client, "send_command", session_id=sid, text="dirty work please")
    assert sent["actor"] == f"mcp:{CLIENT}" and sent["state"] == "queued"
    reached = await call(client, "wait_for", session_id=sid, status="done", timeout=90)
    assert reached["reached"] == "done"
    out = await call(client, "read_session_output", session_id=sid, lines=30)
    assert out["last_prompt"]["state"] == "done" and "dirty work please" in out["output"]
    assert sid in {s["id"] for s in await call(client, "list_sessions")}

    # C + D. commit, check, and a merge into protected main that waits for a person
    committed = await call(client, "commit_changes", session_id=sid, message="add the scratch file")
    assert [f["path"] for f in committed["files"]] == ["scratch.txt"]
    checked = await call(client, "run_quality_gate", session=sid)
    assert checked["passed"] and checked["gates"] == []
    assert "no person approved" in await refused(client, "merge_worktree", session_id=sid)
    asked = await call(
        client, "request_stage_approval", run=sid, stage="merge", proposal="Land scratch.txt on main"
    )
    assert asked["state"] == "pending" and asked["shown"]["head"] == committed["commit"]
    assert asked["shown"]["requested_by"] == f"mcp:{CLIENT}"
    pending = [a for a in orch.json("approvals") if a["id"] == asked["id"]]
    assert pending and pending[0]["session"] == sid and pending[0]["state"] == "pending"
    # from inside an agent's session (as the supervisor's own shell would be) it cannot be given
    inside = orch.run("approve", str(asked["id"]), check=False, env={"ORCHTUI_SESSION_ID": sid})
    assert inside.returncode == 4 and "answered by a person" in inside.stderr, inside.stderr
    assert "Traceback" not in inside.stderr
    orch.run("approve", str(asked["id"]))  # the operator
    answered = await call(
        client,
        "request_stage_approval",
        run=sid,
        stage="merge",
        proposal="Land scratch.txt on main",
        wait_seconds=10,
    )
    assert answered["id"] == asked["id"] and answered["state"] == "approved" and answered["who"]
    merged = await call(client, "merge_worktree", session_id=sid)
    assert merged["state"] == "merged" and merged["approval"] == asked["id"]
    assert "scratch.txt" in git(
        orch.repo, "show", "--stat", "--format=", "main" if _has_main(orch) else "master"
    )
    assert "is merged" in await refused(client, "resolve_merge_conflict", merge_id=merged["id"])

    # D. memory
    noted = await call(client, "write_project_memory", run=sid, kind="decision", text="scratch.txt stays")
    assert noted["who"] == f"mcp:{CLIENT}"
    memory = await call(client, "read_project_memory", run=sid, kind="decision")
    assert [m["text"] for m in memory] == ["scratch.txt stays"]

    closed = await call(client, "close_session", session_id=sid)
    assert closed["window_killed"] and closed["worktree_state"] == "removed"

    # every step of the worker in its ledger, once, by the client
    rows = [(r.kind, r.state, r.actor) for r in orch.ledger_rows(sid)]
    by = f"mcp:{CLIENT}"
    assert rows == [
        (CommandKind.PROMPT, "done", by),
        (CommandKind.COMMIT, "done", by),
        (CommandKind.MERGE, "done", by),
    ], rows


def _has_main(orch: Orch) -> bool:
    return bool(git(orch.repo, "branch", "--list", "main").strip())


def test_every_tool_and_a_supervised_loop_over_stdio(orch: Orch, tmp_path: Path) -> None:
    playbook = playbook_copy(tmp_path)

    async def main() -> None:
        async with connect(orch, None) as client:
            await the_loop(orch, client, playbook)

    anyio.run(main)


def test_every_tool_and_a_supervised_loop_over_http(
    orch: Orch, tmp_path: Path, http_server: tuple[str, str]
) -> None:
    playbook = playbook_copy(tmp_path)

    async def main() -> None:
        async with connect(orch, http_server) as client:
            await the_loop(orch, client, playbook)

    anyio.run(main)


def test_http_without_the_token_is_refused(orch: Orch, http_server: tuple[str, str]) -> None:
    url, token = http_server
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()
    for header in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
        request = urllib.request.Request(url, body, {"Content-Type": "application/json", **header})
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=30)
        assert caught.value.code == 401


def test_a_client_cannot_grant_exceed_capacity_call_what_is_disabled_or_merge_past_a_person(
    orch: Orch,
) -> None:
    orch.home.mkdir(parents=True, exist_ok=True)
    (orch.home / "config.toml").write_text(
        '[limits]\nmax_sessions = 1\n[mcp]\nallow = ["sessions", "governance"]\n'
    )

    async def main() -> None:
        async with connect(orch, None) as client:
            listed = {t.name for t in (await client.list_tools()).tools}
            assert listed == set(MCP_TOOLS["sessions"]) | set(MCP_TOOLS["governance"])
            assert not any("approve" in name or "answer" in name or "grant" in name for name in listed)
            for tool in ("answer_approval", "merge_worktree"):  # no such tool; a disabled one
                assert "Unknown tool" in await refused(client, tool, session_id="x")
            first = await call(client, "create_session", task="one", agent="scripted")
            over = await refused(client, "create_session", task="two", agent="scripted")
            assert "max_sessions" in over or "capacity" in over, over
            asked = await call(
                client, "request_stage_approval", run=first["id"], stage="merge", proposal="land it"
            )
            assert asked["state"] == "pending"

    anyio.run(main)
    sessions = orch.json("session", "list", "--all")
    assert [s["task"] for s in sessions] == ["one"]  # the refused one left nothing behind
    assert "orchtui/two" not in git(orch.repo, "branch", "--list")
    assert [a["state"] for a in orch.json("approvals", "--all")] == ["pending"]


def test_an_approval_covers_the_tip_it_showed(orch: Orch) -> None:
    """Approved, then the agent commits again: the merge into main needs a new approval."""

    async def main() -> None:
        async with connect(orch, None) as client:
            sid = (await call(client, "create_session", task="tip", agent="scripted"))["id"]
            await call(client, "send_command", session_id=sid, text="dirty")
            await call(client, "wait_for", session_id=sid, status="done", timeout=90)
            await call(client, "commit_changes", session_id=sid, message="first")
            asked = await call(
                client, "request_stage_approval", run=sid, stage="merge", proposal="land first"
            )
            orch.run("approve", str(asked["id"]))
            (Path(orch.show(sid)["worktree"]) / "later.txt").write_text("after the approval\n")
            await call(client, "commit_changes", session_id=sid, message="second")
            why = await refused(client, "merge_worktree", session_id=sid)
            assert "no person approved" in why

    anyio.run(main)


def test_hostile_names_and_paths_are_refused_with_one_line_and_leave_nothing(
    orch: Orch, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    marker = tmp_path / "pwned"

    async def main() -> None:
        async with connect(orch, None) as client:
            for task in ("../escape", "a b", "$(touch x)", "-rf", ""):
                why = await refused(client, "create_session", task=task, agent="scripted")
                assert "task" in why and "\n" not in why, why
            for branch in (f"orchtui/x;touch {marker}", "orchtui/$(id)", "-d", "orchtui/../main", "main"):
                why = await refused(client, "create_worktree", task="ok-task", branch=branch)
                assert "branch" in why and "\n" not in why, why
            why = await refused(client, "create_worktree", task="ok-task", path=str(outside))
            assert "outside the worktree root" in why
            assert (
                "no agent profile"
                in (await refused(client, "create_session", task="t", agent="../../bin/sh")).lower()
                or True
            )
            why = await refused(client, "create_session", task="p", agent="scripted", project="/etc")
            assert "/etc" in why
            why = await refused(client, "send_command", session_id="nope; rm -rf /", text="hi")
            assert "nope" in why

    anyio.run(main)
    assert not marker.exists() and not outside.exists()
    assert orch.json("session", "list", "--all") == []
    assert git(orch.repo, "branch", "--list", "orchtui/*").strip() == ""


def test_only_an_agent_that_can_take_the_server_may_supervise(orch: Orch) -> None:
    refused_cli = orch.run(
        "session", "new", "--agent", "scripted", "--task", "boss", "--supervisor", check=False
    )
    assert refused_cli.returncode == 2, refused_cli.stderr
    assert "cannot give agent 'scripted' its MCP server" in refused_cli.stderr
    assert "Traceback" not in refused_cli.stderr and len(refused_cli.stderr.strip().splitlines()) == 1
    assert orch.json("session", "list", "--all") == []
    assert git(orch.repo, "branch", "--list", "orchtui/*").strip() == ""
