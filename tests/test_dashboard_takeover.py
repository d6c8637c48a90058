"""Takeover from the dashboard, with orchtui running inside a real terminal (a pane of a
second tmux server), driven with send-keys and read with capture-pane."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator

import pytest
from libtmux import Server

from conftest import Orch, wait_for


@pytest.fixture
def terminal() -> Iterator[Server]:
    server = Server(socket_name=f"orchtui-term-{uuid.uuid4().hex[:8]}")
    yield server
    if server.is_alive():
        server.kill()


def screen(server: Server) -> str:
    return "\n".join(server.cmd("capture-pane", "-p", "-t", "term").stdout)


def test_take_over_type_detach_and_the_dashboard_is_back(orch: Orch, terminal: Server) -> None:
    sid = orch.new("handson")
    orch.wait_status(sid, "idle")
    env_args: list[str] = []
    for key in ("ORCHTUI_HOME", "ORCHTUI_TMUX_SOCKET", "ORCHTUI_SCRIPTED_SCENARIO", "PATH", "HOME"):
        env_args += ["-e", f"{key}={orch.env[key]}"]
    terminal.cmd(
        "new-session",
        "-d",
        "-s",
        "term",
        "-x",
        "150",
        "-y",
        "40",
        "-c",
        str(orch.repo),
        *env_args,
        "-e",
        "TERM=xterm-256color",
        sys.executable,
        "-m",
        "orchtui",
    )
    # the outer terminal's own prefix is moved out of the way so Ctrl-b reaches orchtui's tmux
    terminal.cmd("set-option", "-g", "prefix", "C-a")
    wait_for(lambda: sid in screen(terminal) and "Sessions" in screen(terminal), timeout=30)

    terminal.cmd("send-keys", "-t", "term", "t")
    wait_for(lambda: "Scripted agent" in screen(terminal) and "Sessions" not in screen(terminal), timeout=20)
    wait_for(lambda: orch.show(sid)["taken_over"], timeout=10)
    orch.run("session", "send", sid, "queued while taken over", "--no-wait")
    terminal.cmd("send-keys", "-t", "term", "-l", "typed by the operator")
    terminal.cmd("send-keys", "-t", "term", "Enter")
    wait_for(lambda: [e for e in orch.transcript(sid) if e["type"] == "prompt"], timeout=15)

    terminal.cmd("send-keys", "-t", "term", "C-b", "d")  # detach from orchtui's tmux: prefix d
    wait_for(lambda: "Sessions" in screen(terminal) and sid in screen(terminal), timeout=20)
    wait_for(lambda: not orch.show(sid)["taken_over"], timeout=10)

    takeover = next(r for r in orch.json("ledger", sid) if r["kind"] == "takeover")
    assert [t["state"] for t in takeover["transitions"]] == ["running", "done"]
    wait_for(lambda: [r.state for r in orch.ledger_rows(sid) if r.kind == "prompt"] == ["done"], timeout=20)
    prompts = [e["text"] for e in orch.transcript(sid) if e["type"] == "prompt"]
    assert prompts == ["typed by the operator", "queued while taken over"]

    terminal.cmd("send-keys", "-t", "term", "q")
    wait_for(lambda: "Sessions" not in screen(terminal), timeout=10)
    assert orch.status(sid) == "idle"  # quitting the dashboard leaves agents running
