"""Turn truth with an agent that behaves like the real CLIs: Enter is followed by a pause
with a stale idle screen before the turn shows, hooks fire before the screen redraws, a
permission dialog opens under a stale spinner, API errors are retried with backoff.

Each test asserts the order of what happened (ledger transitions against the agent's own
transcript times, status timelines), not only where things ended."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from helpers import Orch, wait_for
from test_run_policies import hook_env, hook_events

REALISTIC = """
name = "realistic"
turn_delay = 1.2
hooks = {hooks}
hook_lead = 0.4
stale_spinner = {hooks}

[[rule]]
match = "^perm"
steps = [{{ work = 0.5 }}, {{ ask = "Write notes.txt?" }}, {{ work = 0.5 }},
         {{ write = "notes.txt", content = "approved\\n" }}]

[[rule]]
match = "^retry"
steps = [{{ work = 0.3 }}, {{ api_error = 500, retries = 4, backoff = 0.6 }}, {{ say = "recovered" }}]

[[rule]]
match = "giveup"
steps = [{{ work = 0.3 }}, {{ api_error = 401, retries = 2, backoff = 0.3, recover = false }}]

[[rule]]
match = "^flash"
steps = [{{ work = 0.4 }}, {{ flash = "✖ Error: a line redrawn in passing", flash_for = 0.12 }},
         {{ work = 0.4 }}, {{ say = "fine" }}]

[[rule]]
match = "write the result"
steps = [{{ work = 0.5 }}, {{ write = "result.txt", content = "the work\\n" }}]

[[rule]]
match = ""
steps = [{{ work = 0.5 }}, {{ say = "Echo: {{prompt}}" }}]
"""


def one_stage_book(tmp_path: Path, agent: str, prompt: str, gate_file: str) -> Path:
    """A playbook of one fully automatic stage, no retries: one role, a file_exists gate."""
    book = tmp_path / "one-stage.yaml"
    book.write_text(
        "stages:\n  - id: build\n    automation: fully_auto\n    retries: 0\n    on_failure: stay\n"
        f"    roles:\n      - {{role: builder, agents: [{agent}], prompt: '{prompt}'}}\n"
        f"    gates:\n      - {{type: file_exists, path: {gate_file}}}\n"
    )
    return book


def realistic(orch: Orch, tmp_path: Path, hooks: bool) -> None:
    path = tmp_path / f"realistic-{hooks}.toml"
    path.write_text(REALISTIC.format(hooks=str(hooks).lower()))
    orch.env["ORCHTUI_SCRIPTED_SCENARIO"] = str(path)


def transcript_times(orch: Orch, sid: str, kind: str) -> list[float]:
    return [float(e["t"]) for e in orch.transcript(sid) if e["type"] == kind]


def row_json(orch: Orch, sid: str, index: int = -1) -> dict[str, Any]:
    return dict(orch.json("ledger", sid)[index])


def status_timeline(orch: Orch, sid: str) -> list[tuple[float, str]]:
    from datetime import datetime

    out = []
    for event in orch.json("events", sid):
        if event["kind"] == "status":
            out.append((datetime.fromisoformat(event["at"]).timestamp(), event["data"]["new"]))
    return out


def test_a_prompt_is_running_only_once_the_turn_starts_and_done_only_after_it_ends(
    orch: Orch, tmp_path: Path
) -> None:
    realistic(orch, tmp_path, hooks=False)  # screen only, like Codex and aider
    sid = orch.new("slowstart")
    orch.wait_status(sid, "idle")
    orch.run("session", "send", sid, "hello there", "--no-wait")
    wait_for(lambda: row_json(orch, sid)["state"] in ("done", "failed"), timeout=30)
    row = row_json(orch, sid)
    assert [t["state"] for t in row["transitions"]] == ["queued", "issued", "delivered", "running", "done"]
    at = {t["state"]: _ts(t["at"]) for t in row["transitions"]}
    turn_start = transcript_times(orch, sid, "prompt")[0]  # after the agent's 1.2 s pause
    turn_end = transcript_times(orch, sid, "marker")[0]
    assert at["delivered"] < turn_start, "delivered: the agent visibly took the text (before its turn)"
    assert at["running"] >= turn_start - 0.01, (at, turn_start)
    assert at["done"] >= turn_end - 0.01, (at, turn_end)


def test_a_stage_gate_waits_for_the_turn_and_passes_with_no_retries(orch: Orch, tmp_path: Path) -> None:
    realistic(orch, tmp_path, hooks=False)
    book = one_stage_book(tmp_path, "scripted", "write the result", "result.txt")
    orch.run("run", str(book), "--task", "gate-after-turn")
    run_id = orch.json("runs")[0]["id"]
    waited = orch.run("wait", "--run", run_id, "--for", "done", "--timeout", "90", check=False)
    assert waited.returncode == 0, waited.stderr
    run = orch.json("runs")[0]
    assert run["state"] == "done", run
    events = orch.json("events")
    assert not [e for e in events if e["kind"] in ("gate.failed", "stage.retry")], (
        "the gate ran once and passed"
    )


def test_a_stage_whose_prompts_all_failed_never_passes_its_gates(orch: Orch, tmp_path: Path) -> None:
    realistic(orch, tmp_path, hooks=False)
    book = one_stage_book(tmp_path, "scripted", "giveup at once", "README.md")  # the gate alone would pass
    orch.run("run", str(book), "--task", "no-prompt-done")
    run_id = orch.json("runs")[0]["id"]
    assert orch.run("wait", "--run", run_id, "--for", "paused", "--timeout", "90").returncode == 0
    run = orch.json("runs")[0]
    assert run["state"] == "paused" and "no role prompt finished" in run["detail"], run
    assert [r["state"] for r in orch.json("ledger") if r["actor"].startswith("run:")] == ["failed"]


def test_a_hook_wait_under_a_stale_spinner_stays_waiting_until_answered(orch: Orch, tmp_path: Path) -> None:
    realistic(orch, tmp_path, hooks=True)
    sid = orch.new("stale-wait")
    orch.wait_status(sid, "idle")
    orch.run("session", "send", sid, "perm: write notes", "--no-wait")
    orch.wait_status(sid, "waiting", timeout=30)
    waited_at = time.time()
    # The dialog is drawn 0.4 s after the hook, under the spinner line: the screen alone
    # would say "working". The wait must hold until the operator answers.
    end = time.monotonic() + 2.5
    while time.monotonic() < end:
        assert orch.status(sid) == "waiting", status_timeline(orch, sid)
        time.sleep(0.05)
    answer = orch.run("session", "answer", sid, "approve", check=False)
    assert answer.returncode == 0, answer.stderr
    wait_for(lambda: row_json(orch, sid, 0)["state"] in ("done", "failed"), timeout=30)
    assert row_json(orch, sid, 0)["state"] == "done"
    worktree = Path(orch.show(sid)["worktree"])
    assert (worktree / "notes.txt").read_text() == "approved\n"
    timeline = status_timeline(orch, sid)
    after_wait = [s for t, s in timeline if t >= waited_at - 0.5]
    assert after_wait[:3] == ["waiting", "working", "idle"], timeline
    prompt = next(r for r in orch.json("ledger", sid) if r["kind"] == "prompt")
    assert [t["state"] for t in prompt["transitions"]] == ["queued", "issued", "delivered", "running", "done"]


def test_retries_show_as_working_with_their_detail_and_escalate(orch: Orch, tmp_path: Path) -> None:
    realistic(orch, tmp_path, hooks=True)
    env, out = hook_env(tmp_path)
    orch.env.update({**env, "ORCHTUI_EVENTS__RETRY_WARN_AFTER": "1.0"})
    sid = orch.new("retries")
    orch.wait_status(sid, "idle")
    orch.run("session", "send", sid, "retry please", "--no-wait")
    wait_for(lambda: (orch.show(sid)["status_detail"] or "").startswith("retrying:"), timeout=30)
    show = orch.show(sid)
    assert show["status"] == "working" and "API error 500" in show["status_detail"], show
    wait_for(lambda: any(e["kind"] == "agent.retrying" for e in hook_events(out)), timeout=20)
    wait_for(lambda: row_json(orch, sid)["state"] in ("done", "failed"), timeout=30)
    assert row_json(orch, sid)["state"] == "done"

    orch.run("session", "send", sid, "giveup now", "--no-wait")
    wait_for(lambda: row_json(orch, sid)["state"] in ("done", "failed"), timeout=30)
    row = row_json(orch, sid)
    assert row["state"] == "failed" and "API Error: 401" in (row["error"] or ""), row
    assert [t["state"] for t in row["transitions"]] == ["queued", "issued", "delivered", "running", "failed"]
    assert orch.status(sid) == "error"
    wait_for(lambda: any(e["kind"] == "agent.error" for e in hook_events(out)), timeout=10)
    error = next(e for e in hook_events(out) if e["kind"] == "agent.error")
    assert error["severity"] == "warning" and "401" in str(error["message"])


def test_a_restarted_session_is_not_lost_while_it_starts(orch: Orch) -> None:
    from orchtui.store.records import Records

    sid = orch.new("grace")
    orch.wait_status(sid, "idle")
    window = orch.show(sid)["tmux_window"]
    orch.server.cmd("kill-window", "-t", window)
    wait_for(lambda: orch.status(sid) in ("lost", "exited"))
    # Created long ago, (re)starting now, its window not made yet: what `session restart`
    # leaves in the store for a moment. The engine must wait for it.
    store = orch.store
    try:
        Records(store).update_session(
            sid,
            status="starting",
            status_at=time.time(),
            created_at=time.time() - 3600,
            tmux_pane=None,
            tmux_window=None,
            ended_at=None,
        )
    finally:
        store.close()
    orch.run("engine", "status")
    (orch.home / "run" / "wake").open("a").write("test\n")
    time.sleep(2.0)
    assert orch.status(sid) == "starting"


def test_read_only_verbs_bring_the_engine_back(orch: Orch) -> None:
    sid = orch.new("revive")
    orch.wait_status(sid, "idle")
    for verb in (["ledger"], ["events"], ["runs"], ["approvals"], ["report"]):
        pid = orch.engine_pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: orch.engine_pid() is None, timeout=10)
        orch.run(*verb)
        assert orch.engine_pid() is not None, f"orchtui {verb[0]} did not start the engine"


def test_wait_and_why_follow_a_turn(orch: Orch, tmp_path: Path) -> None:
    realistic(orch, tmp_path, hooks=True)
    sid = orch.new("waiter")
    assert orch.run("wait", sid, "--for", "idle", "--timeout", "30").stdout.startswith("idle")
    assert orch.json("session", "why", sid)["command"] is None
    orch.run("session", "send", sid, "perm: write it", "--no-wait")
    assert orch.run("wait", sid, "--for", "waiting", "--timeout", "30").stdout.startswith("waiting")
    why = orch.json("session", "why", sid)
    assert why["status"] == "waiting" and why["source"] == "hook", why
    assert "PermissionRequest" in why["detail"]
    assert why["command"]["state"] == "running" and "finish its turn" in why["command"]["waits_for"]
    assert orch.show(sid)["status_source"] == "hook"
    timed_out = orch.run("wait", sid, "--for", "exited", "--timeout", "1", check=False)
    assert timed_out.returncode == 124 and "not reached within 1s" in timed_out.stderr
    orch.run("session", "answer", sid, "approve")
    assert orch.run("wait", sid, "--for", "done", "--timeout", "30").stdout.startswith("done")
    assert [r.state for r in orch.ledger_rows(sid)] == ["done", "done"]  # the prompt and the answer
    orch.server.cmd("kill-window", "-t", orch.show(sid)["tmux_window"])
    gone = orch.run("wait", sid, "--for", "idle", "--timeout", "30", check=False)
    assert gone.returncode == 1 and f"session {sid} is " in gone.stderr, gone.stderr
    unknown = orch.run("wait", sid, "--for", "bogus", check=False)
    assert unknown.returncode == 2 and "--for bogus" in unknown.stderr


def _ts(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp()


def test_an_old_error_redrawn_after_the_enter_does_not_fail_the_next_prompt(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """Codex keeps a failed turn's `■` line in view; typing `/quit` closes a popup over it
    and its exit screen draws it again. That error is the turn before's: the new row
    waits for its own evidence, and a new error line fails it."""
    from orchtui.config import load_config
    from orchtui.domain import CommandState
    from orchtui.engine.monitor import Monitor
    from orchtui.engine.turns import Turns
    from orchtui.services.context import Context
    from test_store import _session

    monkeypatch.setenv("ORCHTUI_HOME", str(tmp_path / "home"))
    ctx = Context(load_config(tmp_path))
    sid = _session(ctx.store)
    log = tmp_path / "c.log"
    log.write_bytes("› first\r\n\r\n■ unexpected status 401 Unauthorized\r\n\r\n› ".encode())
    monitor = Monitor(sid, ctx.profiles.get("codex"), log, "%1", "error", cols=80, rows=12)
    monitor.read_new()
    assert monitor.verdict().state == "error"
    turns = Turns(ctx, lambda _sid: None)
    cmd = ctx.ledger.enqueue(sid, "/quit")
    assert cmd.id is not None
    for state in (CommandState.ISSUED, CommandState.DELIVERED):
        ctx.ledger.transition(cmd.id, state, "test")
    turns.note_submit(cmd.id, monitor)

    def status(value: str) -> None:  # what Engine.set_status does to the monitor
        monitor.status, monitor.status_seq = value, monitor.status_seq + 1
        turns.advance(monitor)

    status("idle")  # the slash-command popup hides the error line
    status("error")  # and closing it shows the old one again
    assert ctx.ledger.get(cmd.id).state == "delivered"
    with log.open("ab") as fh:
        fh.write("/quit\r\n■ stream disconnected before completion\r\n".encode())
    monitor.read_new()
    status("error")
    row = ctx.ledger.get(cmd.id)
    assert row.state == "failed" and "stream disconnected" in (row.error or ""), row.error


def test_an_error_line_shown_in_passing_is_no_error(orch: Orch, tmp_path: Path) -> None:
    """Agents redraw: an error line on screen for a frame (their history on resume, a
    popup closing) is not the agent's state. The status never says error; the turn is done."""
    realistic(orch, tmp_path, hooks=False)
    sid = orch.new("flash")
    orch.wait_status(sid, "idle", 30)
    since = time.time()
    orch.run("session", "send", sid, "flash it")
    wait_for(lambda: orch.ledger_rows(sid)[-1].state in ("done", "failed"), 60)
    assert orch.ledger_rows(sid)[-1].state == "done"
    seen = [status for at, status in status_timeline(orch, sid) if at >= since]
    assert "working" in seen and "error" not in seen, seen
    assert b"a line redrawn in passing" in (orch.home / "logs" / f"{sid}.log").read_bytes()


def test_an_error_printed_after_the_prompt_is_redrawn_fails_the_turn(orch: Orch, tmp_path: Path) -> None:
    """Codex, on an API error, reports it (OSC 7501 `state=error`), redraws its prompt, and
    prints the `■` line a frame later. The moment in between looks idle: the row must
    still fail with the error's text, and the status go from working to error, never idle."""
    scenario = tmp_path / "late-error.toml"
    scenario.write_text(
        'name = "late-error"\nprogram_status = true\nlate_error = 0.8\n'
        '[[rule]]\nmatch = "^boom"\n'
        'steps = [{ work = 0.5 }, { fail = "unexpected status 401 Unauthorized" }]\n'
    )
    orch.env["ORCHTUI_SCRIPTED_SCENARIO"] = str(scenario)
    sid = orch.new("late")
    orch.wait_status(sid, "idle", 30)
    since = time.time()
    orch.run("session", "send", sid, "boom now", "--no-wait")
    wait_for(lambda: orch.ledger_rows(sid)[-1].state in ("done", "failed"), 60)
    row = row_json(orch, sid)
    assert row["state"] == "failed", row
    assert "401 Unauthorized" in (row["error"] or ""), row["error"]
    seen = [status for at, status in status_timeline(orch, sid) if at >= since]
    assert seen == ["working", "error"], seen
    assert orch.status(sid) == "error"
