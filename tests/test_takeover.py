"""Takeover from the CLI: `session attach` inside a terminal (a pane of a second tmux
server), the operator types to the agent, detaches, and the ledger has both ends."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator

import pytest
from libtmux import Server

from conftest import Orch, wait_for


@pytest.fixture
def outer() -> Iterator[Server]:
    server = Server(socket_name=f"orchtui-outer-{uuid.uuid4().hex[:8]}")
    yield server
    if server.is_alive():
        server.kill()


def screen(server: Server) -> str:
    return "\n".join(server.cmd("capture-pane", "-p", "-t", "outer").stdout)


def test_attach_types_to_the_agent_and_records_takeover(orch: Orch, outer: Server) -> None:
    sid = orch.new("handson")
    orch.wait_status(sid, "idle")
    env_args: list[str] = []
    for key in ("ORCHTUI_HOME", "ORCHTUI_TMUX_SOCKET", "ORCHTUI_SCRIPTED_SCENARIO", "PATH", "HOME"):
        env_args += ["-e", f"{key}={orch.env[key]}"]
    outer.cmd(
        "new-session",
        "-d",
        "-s",
        "outer",
        "-x",
        "160",
        "-y",
        "40",
        "-c",
        str(orch.repo),
        *env_args,
        sys.executable,
        "-m",
        "orchtui",
        "session",
        "attach",
        sid,
    )
    wait_for(lambda: "Scripted agent" in screen(outer), timeout=20)
    wait_for(lambda: orch.show(sid)["taken_over"], timeout=10)

    # a prompt queued by someone else waits while the operator has the session
    orch.run("session", "send", sid, "queued meanwhile", "--no-wait")
    outer.cmd("send-keys", "-t", "outer", "-l", "typed by hand")
    outer.cmd("send-keys", "-t", "outer", "Enter")
    wait_for(lambda: [e for e in orch.transcript(sid) if e["type"] == "prompt"], timeout=10)
    assert [e["text"] for e in orch.transcript(sid) if e["type"] == "prompt"] == ["typed by hand"]
    queued = [r for r in orch.ledger_rows(sid) if r.kind == "prompt"]
    assert [r.state for r in queued] == ["queued"]

    orch.server.cmd("detach-client", "-s", orch.show(sid)["tmux_session"])
    wait_for(lambda: f"Handed {sid} back" in screen(outer), timeout=10)
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
