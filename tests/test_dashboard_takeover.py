"""Takeover from the dashboard, with orchtui running inside a real terminal (a pane of a
second tmux server), driven with send-keys and read with capture-pane."""

from __future__ import annotations

from libtmux import Server

from helpers import Orch, pane_text, run_in_terminal, wait_for


def test_take_over_type_detach_and_the_dashboard_is_back(orch: Orch, terminal: Server) -> None:
    sid = orch.new("handson")
    orch.wait_status(sid, "idle")
    run_in_terminal(terminal, orch)
    # the outer terminal's own prefix is moved out of the way so Ctrl-b reaches orchtui's tmux
    terminal.cmd("set-option", "-g", "prefix", "C-a")
    wait_for(lambda: sid in pane_text(terminal) and "Sessions" in pane_text(terminal), timeout=30)

    terminal.cmd("send-keys", "-t", "term", "t")
    wait_for(
        lambda: "Scripted agent" in pane_text(terminal) and "Sessions" not in pane_text(terminal), timeout=20
    )
    wait_for(lambda: orch.show(sid)["taken_over"], timeout=10)
    orch.run("session", "send", sid, "queued while taken over", "--no-wait")
    terminal.cmd("send-keys", "-t", "term", "-l", "typed by the operator")
    terminal.cmd("send-keys", "-t", "term", "Enter")
    wait_for(lambda: [e for e in orch.transcript(sid) if e["type"] == "prompt"], timeout=15)

    terminal.cmd("send-keys", "-t", "term", "C-b", "d")  # detach from orchtui's tmux: prefix d
    wait_for(lambda: "Sessions" in pane_text(terminal) and sid in pane_text(terminal), timeout=20)
    wait_for(lambda: not orch.show(sid)["taken_over"], timeout=10)

    takeover = next(r for r in orch.json("ledger", sid) if r["kind"] == "takeover")
    assert [t["state"] for t in takeover["transitions"]] == ["running", "done"]
    wait_for(lambda: [r.state for r in orch.ledger_rows(sid) if r.kind == "prompt"] == ["done"], timeout=20)
    prompts = [e["text"] for e in orch.transcript(sid) if e["type"] == "prompt"]
    assert prompts == ["typed by the operator", "queued while taken over"]

    terminal.cmd("send-keys", "-t", "term", "q")
    wait_for(lambda: "Sessions" not in pane_text(terminal), timeout=10)
    assert orch.status(sid) == "idle"  # quitting the dashboard leaves agents running


def test_taking_over_an_ended_session_says_so_and_the_dashboard_stays(orch: Orch, terminal: Server) -> None:
    """`t` on an ended session: a warning that offers a restart; the dashboard never
    leaves the screen, and keys still work."""
    sid = orch.new("gone")
    orch.wait_status(sid, "idle")
    orch.run("session", "send", sid, "/exit")
    orch.wait_status(sid, "exited")
    run_in_terminal(terminal, orch)
    wait_for(lambda: sid in pane_text(terminal) and "exited" in pane_text(terminal), timeout=30)
    terminal.cmd("send-keys", "-t", "term", "t")
    wait_for(lambda: "no agent to take over" in pane_text(terminal), timeout=20)
    assert "Taking over" not in pane_text(terminal) and "Sessions" in pane_text(terminal)
    terminal.cmd("send-keys", "-t", "term", "q")
    wait_for(lambda: "Sessions" not in pane_text(terminal), timeout=10)


def test_after_a_restart_the_output_view_shows_the_new_agent(orch: Orch, terminal: Server) -> None:
    """R on an exited session: its output view follows the new pane at once (it kept
    showing the old pane's end until the row was selected again)."""
    sid = orch.new("again")
    orch.wait_status(sid, "idle")
    orch.run("session", "send", sid, "/exit")
    orch.wait_status(sid, "exited")
    run_in_terminal(terminal, orch)
    wait_for(lambda: "Bye. Resume with" in pane_text(terminal), timeout=30)
    terminal.cmd("send-keys", "-t", "term", "R")
    orch.wait_status(sid, "idle", 30)
    wait_for(lambda: "Bye. Resume with" not in pane_text(terminal), timeout=20)
    wait_for(lambda: "Scripted agent" in pane_text(terminal), timeout=20)  # the new agent's first line
    terminal.cmd("send-keys", "-t", "term", "q")


def test_inside_the_users_own_tmux_the_detach_key_leaves_the_outer_session_alone(
    orch: Orch, terminal: Server
) -> None:
    """orchtui runs in a pane of the user's own tmux, whose prefix is the same C-b as
    orchtui's server's: a prefix typed there reaches the outer tmux. orchtui's server has
    a detach key of its own, C-q, named in its status line, that needs no prefix."""
    sid = orch.new("nested")
    orch.wait_status(sid, "idle")
    run_in_terminal(terminal, orch)
    wait_for(lambda: sid in pane_text(terminal) and "Sessions" in pane_text(terminal), timeout=30)
    terminal.cmd("send-keys", "-t", "term", "t")
    wait_for(lambda: "detach: C-q" in pane_text(terminal), timeout=20)  # orchtui's status line says how
    wait_for(lambda: orch.show(sid)["taken_over"], timeout=10)
    terminal.cmd("send-keys", "-t", "term", "C-q")
    wait_for(lambda: "Sessions" in pane_text(terminal) and sid in pane_text(terminal), timeout=20)
    wait_for(lambda: not orch.show(sid)["taken_over"], timeout=10)
    assert terminal.has_session("term"), "the outer session ended"
    terminal.cmd("send-keys", "-t", "term", "q")
