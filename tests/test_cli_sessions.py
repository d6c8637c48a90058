"""The engine slice end to end: CLI → store → tmux → scripted agent → watcher → status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from helpers import Orch, git, wait_for
from orchtui.domain import CommandKind, CommandState
from orchtui.store.ledger import Ledger
from orchtui.store.records import Records


def test_new_session_runs_in_its_own_worktree_window_and_branch(orch: Orch) -> None:
    sid = orch.new("first")
    info = orch.show(sid)
    assert info["agent"] == "scripted" and info["task"] == "first"
    assert info["branch"] == "orchtui/first"
    worktree = info["worktree"]
    assert worktree.startswith(str(orch.home / "worktrees"))
    assert git(orch.repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"  # the main checkout is untouched
    assert git(orch.repo / ".." / worktree, "rev-parse", "--abbrev-ref", "HEAD") == "orchtui/first"
    # The window lives on orchtui's socket, tagged with the session id, running in the worktree.
    out = orch.server.cmd(
        "list-panes", "-a", "-F", "#{window_id} #{@orchtui_session} #{pane_current_path}"
    ).stdout
    assert f"{info['tmux_window']} {sid} {worktree}" in out
    orch.wait_status(sid, "idle")
    listed = orch.json("session", "list")
    assert [s["id"] for s in listed] == [sid]
    assert {"id", "agent", "task", "status", "branch", "worktree"} <= set(listed[0])


def test_send_delivers_hostile_text_byte_for_byte_without_a_shell(orch: Orch, tmp_path) -> None:
    sid = orch.new("literal")
    orch.wait_status(sid, "idle")
    pwned = tmp_path / "PWNED"
    text = (
        f"look: $(touch {pwned}) and `touch {pwned}2` "
        "with \"double\" and 'single' quotes; echo hi; $HOME ${PATH} \\n \\\\ %s #{pane_id}\n"
        "second line — ünïcødé 日本語 ✓ 🚀\n\tindented"
    )
    out = orch.json("session", "send", sid, text)
    assert out["state"] in ("delivered", "running", "done")
    wait_for(lambda: [e for e in orch.transcript(sid) if e["type"] == "prompt"])
    prompts = [e["text"] for e in orch.transcript(sid) if e["type"] == "prompt"]
    assert prompts == [text]
    assert not pwned.exists() and not (tmp_path / "PWNED2").exists()
    rows = orch.json("ledger", sid)
    assert rows[0]["text"] == text and rows[0]["session"] == sid
    wait_for(lambda: orch.json("ledger", sid)[0]["state"] == "done")
    row = orch.json("ledger", sid)[0]
    assert [t["state"] for t in row["transitions"]] == ["queued", "issued", "delivered", "running", "done"]
    for state in ("queued_at", "issued_at", "delivered_at", "running_at", "done_at"):
        assert row[state] is not None


def test_a_prompt_cannot_end_its_paste_early_or_reach_the_terminal_as_controls(orch: Orch) -> None:
    """ESC [ 201 ~ then a carriage return inside a prompt ended the bracketed paste and
    submitted its first half as a prompt of its own. Control characters are removed before
    the prompt is queued; the ledger keeps exactly what was sent, and says so."""
    sid = orch.new("controls")
    orch.wait_status(sid, "idle")
    text = "first half\x1b[201~\rsecond half\x07\x1b]0;title\x07 \x9b2J end"
    sent = "first half[201~\nsecond half]0;title 2J end"
    orch.json("session", "send", sid, text)
    wait_for(lambda: orch.json("ledger", sid)[0]["state"] == "done")
    assert [e["text"] for e in orch.transcript(sid) if e["type"] == "prompt"] == [sent]
    row = orch.json("ledger", sid)[0]
    assert row["text"] == sent
    assert "5 terminal control character(s) removed" in row["transitions"][0]["cause"]
    # text stored before (or by other means) is shown escaped, never acted on
    store = orch.store
    try:
        Ledger(store).record(
            sid, CommandKind.TAKEOVER, "reset\x1bc title\x1b]0;x\x07", CommandState.DONE, "t", "t"
        )
    finally:
        store.close()
    shown = orch.run("ledger", sid).stdout
    assert "\x1b" not in shown and "\x07" not in shown
    assert "reset\\x1bc title\\x1b]0;x\\x07" in shown


def test_status_follows_the_agent_idle_working_waiting_working_idle(orch: Orch) -> None:
    sid = orch.new("perm")
    orch.wait_status(sid, "idle")
    orch.run("session", "send", sid, "perm: please write notes", "--no-wait")
    seen = ["idle"]

    def observe_until(target: str) -> None:
        def step() -> bool:
            status = orch.status(sid)  # the store itself: a CLI process per look could miss a step
            if status != seen[-1]:
                seen.append(status)
            return status == target

        wait_for(step, timeout=20, interval=0.02)

    observe_until("waiting")
    orch.run("session", "answer", sid, "approve")
    observe_until("idle")
    assert seen == ["idle", "working", "waiting", "working", "idle"]
    # the event log holds the same sequence, each change stamped
    changes = [
        (e["data"]["old"], e["data"]["new"]) for e in orch.json("events", sid) if e["kind"] == "status"
    ]
    assert [new for _, new in changes][-4:] == ["working", "waiting", "working", "idle"]
    # the agent really wrote and committed in its own worktree
    worktree = orch.show(sid)["worktree"]
    assert git(orch.repo, "log", "-1", "--format=%s", "orchtui/perm") == "Add notes"
    assert (orch.repo.parent / worktree / "notes.txt").exists() or (
        __import__("pathlib").Path(worktree) / "notes.txt"
    ).exists()
    kinds = [(r.kind, r.state) for r in orch.ledger_rows(sid)]
    assert kinds == [("prompt", "done"), ("answer", "done")]


def test_agent_exit_is_seen_with_its_exit_code_within_two_seconds(orch: Orch) -> None:
    sid = orch.new("leaver")
    orch.wait_status(sid, "idle")
    orch.run("session", "send", sid, "quit now")
    orch.wait_status(sid, "exited", timeout=10)
    wait_for(lambda: orch.show(sid)["exit_code"] is not None, timeout=10)
    info = orch.show(sid)
    assert info["exit_code"] == 3, [(e["message"], e["data"]) for e in orch.json("events", sid)]
    exit_at = next(e["t"] for e in orch.transcript(sid) if e["type"] == "exit")
    store = orch.store
    from orchtui.store.records import Records

    events = [e for e in Records(store).events(sid, "status") if '"new": "exited"' in e.data]
    store.close()
    assert events, "no exited event"
    assert events[-1].at - exit_at < 2.0, f"exit seen after {events[-1].at - exit_at:.2f}s: {events[-1].data}"


def test_an_exit_screen_long_before_the_process_ends_still_gets_its_exit_code(orch: Orch, tmp_path) -> None:
    """Claude Code prints its exit screen, then (on a loaded machine) takes many seconds
    to end. The session is `exited` from the screen at once; the exit code comes when the
    process ends, however long after, without a second `exited` transition."""
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "lingers.toml").write_text(
        'command = ["{python}", "-c", "import time, sys; print(\'Goodbye!\', flush=True); '
        'time.sleep(8); sys.exit(7)"]\n'
        "[[patterns]]\nstate = \"exited\"\nregex = '^Goodbye!$'\n"
    )
    orch.env["ORCHTUI_PROFILE_DIRS"] = f'["{profiles}"]'
    orch.run("engine", "stop")
    sid = orch.new("lingers", "lingers")
    orch.wait_status(sid, "exited")
    assert orch.show(sid)["exit_code"] is None  # the process is still there
    wait_for(lambda: orch.show(sid)["exit_code"] == 7, timeout=60)
    store = orch.store
    try:
        news = [json.loads(e.data)["new"] for e in Records(store).events(sid, "status")]
        exits = [e.message for e in Records(store).events(sid, "agent.exited")]
    finally:
        store.close()
    assert news.count("exited") == 1, news
    assert exits == ["agent exited: exit code 7"] or exits[0].startswith("agent exited: exit code 7"), exits


def test_queued_prompts_wait_for_idle_and_run_in_order(orch: Orch) -> None:
    sid = orch.new("queue")
    orch.wait_status(sid, "idle")
    orch.run("session", "send", sid, "slow job", "--no-wait")
    orch.wait_status(sid, "working")
    orch.run("session", "send", sid, "second", "--no-wait")
    orch.run("session", "send", sid, "third", "--no-wait")
    wait_for(
        lambda: all(r.state == "done" for r in orch.ledger_rows(sid)) and len(orch.ledger_rows(sid)) == 3,
        timeout=30,
    )
    prompts = [e["text"] for e in orch.transcript(sid) if e["type"] == "prompt"]
    assert prompts == ["slow job", "second", "third"]
    rows = orch.ledger_rows(sid)
    assert rows[1].issued_at >= rows[0].done_at and rows[2].issued_at >= rows[1].done_at


def test_agent_error_fails_the_command_and_shows_error(orch: Orch) -> None:
    sid = orch.new("errs")
    orch.wait_status(sid, "idle")
    orch.run("session", "send", sid, "boom")
    orch.wait_status(sid, "error")
    wait_for(lambda: orch.ledger_rows(sid)[0].state == "failed")
    orch.run("session", "send", sid, "hello again")
    orch.wait_status(sid, "idle")


def test_prompt_pasted_but_never_submitted_is_marked_failed(orch: Orch, tmp_path) -> None:
    """An agent that swallows input and never reacts: delivery is verified, retried, failed."""
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "deaf.toml").write_text(
        'command = ["{python}", "-c", "import tty, time; tty.setraw(0); print(\'ready>\', flush=True); '
        'time.sleep(600)"]\n'
        "[submit]\ndelay = 0.1\n"
        "[[patterns]]\nstate = \"idle\"\nregex = 'ready>'\n"
    )
    env = {
        "ORCHTUI_PROFILE_DIRS": f'["{profiles}"]',
        "ORCHTUI_DELIVERY__VERIFY_TIMEOUT": "0.5",
        "ORCHTUI_DELIVERY__RETRIES": "1",
    }
    orch.env.update(env)
    orch.run("engine", "stop")
    sid = orch.new("deaf", "deaf")
    orch.wait_status(sid, "idle")
    proc = orch.run("session", "send", sid, "anyone there?", check=False)
    assert proc.returncode == 1
    assert "not submitted" in proc.stderr
    row = orch.json("ledger", sid)[0]
    assert row["state"] == "failed" and row["attempts"] == 1
    assert any(e["kind"] == "delivery.retry" for e in orch.json("events", sid))


def test_profile_unset_env_keeps_variables_from_the_agent(orch: Orch, tmp_path) -> None:
    """Gemini CLI turns headless under CI=true: a profile's unset_env drops such variables
    from the agent's environment, and only those."""
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "envy.toml").write_text(
        'command = ["{python}", "-c", "import os, time; '
        "print('CI=' + os.environ.get('CI', '-'), 'KEEP=' + os.environ.get('KEEP', '-'), "
        "'U=' + os.environ.get('ORCHTUI_UNSET_ENV', '-'), 'ready>', flush=True); time.sleep(600)\"]\n"
        'unset_env = ["CI", "GITHUB_ACTIONS"]\n'
        "[[patterns]]\nstate = \"idle\"\nregex = 'ready>'\n"
    )
    orch.env.update({"ORCHTUI_PROFILE_DIRS": f'["{profiles}"]', "CI": "true", "KEEP": "yes"})
    orch.run("engine", "stop")
    sid = orch.new("envy", "envy")
    orch.wait_status(sid, "idle")
    pane = orch.show(sid)["tmux_pane"]
    screen = "\n".join(orch.server.cmd("capture-pane", "-p", "-t", pane).stdout)
    assert "CI=- KEEP=yes U=- ready>" in screen, screen

    (profiles / "bad.toml").write_text('command = ["x"]\nunset_env = ["CI; rm -rf /"]\n')
    proc = orch.run("doctor", check=False)
    assert "bad.toml" in proc.stdout + proc.stderr and "unset_env" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_kill_refuses_dirty_worktree_without_force_and_never_deletes_the_branch(orch: Orch) -> None:
    clean = orch.new("clean")
    dirty = orch.new("dirty")
    orch.wait_status(clean, "idle")
    orch.wait_status(dirty, "idle")
    orch.run("session", "send", dirty, "dirty it")
    wait_for(lambda: orch.ledger_rows(dirty)[0].state == "done")
    dirty_path = orch.show(dirty)["worktree"]
    windows_before = orch.windows()

    refused = orch.run("session", "kill", dirty, check=False)
    assert refused.returncode == 4
    assert "uncommitted" in refused.stderr and "scratch.txt" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert orch.show(dirty)["status"] == "idle" and orch.windows() == windows_before  # nothing changed

    killed = orch.json("session", "kill", dirty, "--force")
    assert killed["rescue_ref"] == f"refs/orchtui/rescue/{dirty}"
    assert git(orch.repo, "show", f"{killed['rescue_ref']}:scratch.txt") == "uncommitted"
    assert not __import__("pathlib").Path(dirty_path).exists()

    orch.run("session", "kill", clean)
    assert orch.show(clean)["status"] == "killed" and orch.show(clean)["worktree_state"] == "removed"
    branches = git(orch.repo, "branch", "--format=%(refname:short)").split()
    assert {"orchtui/clean", "orchtui/dirty"} <= set(branches)
    assert orch.windows() == []


def test_kill_keep_worktree_leaves_files_in_place(orch: Orch) -> None:
    sid = orch.new("keeper")
    orch.wait_status(sid, "idle")
    orch.run("session", "send", sid, "dirty it")
    wait_for(lambda: orch.ledger_rows(sid)[0].state == "done")
    out = orch.json("session", "kill", sid, "--keep-worktree")
    assert out["worktree_state"] == "kept"
    assert (__import__("pathlib").Path(out["worktree"]) / "scratch.txt").exists()


def test_send_to_unknown_or_ended_session_is_a_clear_error(orch: Orch) -> None:
    proc = orch.run("session", "send", "nope00", "hi", check=False)
    assert proc.returncode == 3 and proc.stderr.strip() == "orchtui: error: no session 'nope00'"
    sid = orch.new("ended")
    orch.run("session", "kill", sid)
    proc = orch.run("session", "send", sid, "hi", check=False)
    assert proc.returncode == 2 and "killed" in proc.stderr
    time.sleep(0)


def test_setup_command_and_copied_files_and_rollback_on_failure(orch: Orch) -> None:
    (orch.repo / ".env").write_text("SECRET_TOKEN=abc\n")  # untracked, like a real .env
    (orch.repo / ".orchtui.toml").write_text(
        '[worktrees]\ncopy_files = [".env", "missing.txt"]\nsetup_command = "echo ready > setup-ran.txt"\n'
    )
    orch.run("trust")  # the repository's own setup command (tests/test_trust.py: refused before)
    sid = orch.new("with-setup")
    worktree = __import__("pathlib").Path(orch.show(sid)["worktree"])
    assert (worktree / ".env").read_text() == "SECRET_TOKEN=abc\n"
    assert (worktree / "setup-ran.txt").read_text() == "ready\n"
    assert not (worktree / "missing.txt").exists()

    (orch.repo / ".orchtui.toml").write_text('[worktrees]\nsetup_command = "echo broken >&2; exit 3"\n')
    orch.run("trust")
    proc = orch.run("session", "new", "--agent", "scripted", "--task", "bad-setup", check=False)
    assert proc.returncode == 1 and "setup command failed (exit 3): broken" in proc.stderr
    # rolled back: no session, no worktree, and the just-made branch (no work on it) is gone
    assert [s["task"] for s in orch.json("session", "list", "--all")] == ["with-setup"]
    assert not (worktree.parent / "bad-setup").exists()
    assert "orchtui/bad-setup" not in git(orch.repo, "branch", "--format=%(refname:short)")


def test_an_agent_that_cannot_start_is_refused_before_anything_is_made(orch: Orch, tmp_path: Path) -> None:
    """A CLI that is not installed, or orchtui's own agent without an API key: one line
    naming the agent and what is missing, exit 4, and no worktree, branch or session."""
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "ghost.toml").write_text('name = "ghost"\ncommand = ["orchtui-no-such-cli-here"]\n')
    orch.env["ORCHTUI_PROFILE_DIRS"] = f'["{profiles}"]'
    env = {k: v for k, v in orch.env.items() if not k.startswith("ANTHROPIC_")}
    for agent, said in (
        ("ghost", "agent ghost: orchtui-no-such-cli-here is not installed (not on PATH)"),
        ("orchtui", "agent orchtui: it needs ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN in the environment"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "orchtui", "session", "new", "--agent", agent, "--task", f"t-{agent}"],
            cwd=orch.repo,
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 4 and done.stderr.startswith(f"orchtui: error: {said}"), done.stderr
        assert done.stderr.count("\n") == 1
    assert not orch.json("session", "list", "--all")
    assert git(orch.repo, "branch", "--list", "orchtui/*") == ""
    doctor = orch.run("doctor", env={"ANTHROPIC_API_KEY": ""}).stdout
    assert f"agent orchtui   {sys.executable}: no: it needs ANTHROPIC_API_KEY" in doctor, doctor
    assert "{python}" not in doctor


def test_orchtui_agent_without_a_key_says_so_and_exits_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    done = subprocess.run(
        [sys.executable, "-m", "orchtui", "agent", "--prompt", "hi", "--worktree", str(tmp_path)],
        env={**env, "ORCHTUI_HOME": str(tmp_path / "home")},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2, done
    assert done.stderr == (
        "orchtui agent: error: no API key: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) in the "
        "environment that starts orchtui\n"
    )


def test_session_archive_hides_ended_sessions_and_refuses_live_ones(orch: Orch) -> None:
    live, ended = orch.new("keep-going"), orch.new("all-done")
    orch.wait_status(ended, "idle")
    orch.run("session", "kill", "--keep-worktree", ended)
    proc = orch.run("session", "archive", live, check=False)
    assert proc.returncode == 2 and "still running" in proc.stderr, proc.stderr
    assert orch.json("session", "archive", "--ended") == {"archived": [ended]}
    assert [s["id"] for s in orch.json("session", "list", "--all")] == [live]
    listed = {s["id"]: s for s in orch.json("session", "list", "--archived")}
    assert set(listed) == {live, ended} and listed[ended]["archived_at"]
    orch.run("session", "restart", ended)  # a restarted session is back in the list
    wait_for(lambda: ended in [s["id"] for s in orch.json("session", "list")])


def test_fork_of_an_agent_that_cannot_copy_a_conversation_starts_from_a_summary(orch: Orch) -> None:
    """The scripted agent keeps no conversation to copy: the fork branches from the
    session's branch (its commit is there) and its first prompt sums up the other's."""
    sid = orch.new("origin")
    orch.wait_status(sid, "idle")
    orch.run("session", "send", sid, "perm please")
    orch.wait_status(sid, "waiting", timeout=30)
    orch.run("session", "answer", sid, "approve")
    wait_for(lambda: [r.state for r in orch.ledger_rows(sid) if r.kind == "prompt"] == ["done"], 60)
    forked = orch.json("session", "fork", sid)
    fid = forked["id"]
    assert forked["conversation_copied"] is False and forked["branch"] == "orchtui/origin-fork"
    assert "a new conversation" in forked["status_detail"]
    assert (Path(forked["worktree"]) / "notes.txt").exists()  # the source's commit is on the fork's branch
    wait_for(lambda: [r.state for r in orch.ledger_rows(fid)] == ["done"], 60)  # the summary, delivered
    first = next(e["text"] for e in orch.transcript(fid) if e["type"] == "prompt")
    assert f"fork of session {sid}" in first and "1. perm please" in first and "Add notes" in first
    again = orch.json("session", "fork", sid)
    assert again["task"] == "origin-fork-2"  # the next free name
    assert orch.status(sid) == "idle"
