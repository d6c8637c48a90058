"""The warm CLI process (cli/warm.py) and the quick way into it (cli/forward.py)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import psutil
from libtmux import Server

from helpers import Orch, pane_text, run_in_terminal, wait_for


def warm_process(orch: Orch) -> psutil.Process | None:
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if "orchtui.cli.warm" in cmdline and str(orch.home) in cmdline:
            return proc
    return None


def test_verbs_run_in_the_warm_process_with_the_callers_terminal_codes_and_ctrl_c(orch: Orch) -> None:
    sid = orch.new("warm")
    orch.wait_status(sid, "idle")
    warm = wait_for(lambda: warm_process(orch), 30)
    wait_for(lambda: (orch.home / "run" / "cli.sock").exists(), 30)  # once it has imported the verbs

    # stdin, stdout and the exit code pass through
    sent = orch.run("session", "send", sid, "-", input="from stdin\n")
    assert sent.stdout.strip().split()[-1] in ("delivered", "running", "done"), sent.stdout
    assert orch.ledger_rows(sid)[-1].text == "from stdin\n"
    for env in ({}, {"ORCHTUI_NO_WARM": "1"}):  # the same one-line error and code either way
        missing = orch.run("session", "show", "nosuch", check=False, env=env)
        assert (missing.returncode, missing.stderr) == (3, "orchtui: error: no session 'nosuch'\n")

    # a long verb is a child of the warm process; Ctrl-C here ends it there
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchtui", "wait", sid, "--for", "exited", "--timeout", "120"],
        cwd=orch.repo,
        env=orch.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    child = wait_for(lambda: warm.children(), 30)[0]
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "orchtui: error: aborted" in err, (proc.returncode, err)  # as run here
    wait_for(lambda: not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, 10)

    orch.run("engine", "stop")  # it ends with the engine, and takes its socket along
    wait_for(lambda: not warm.is_running() or warm.status() == psutil.STATUS_ZOMBIE, 30)
    assert not (orch.home / "run" / "cli.sock").exists()
    assert orch.run("session", "show", sid, "--json").returncode == 0  # runs here now


def test_the_dashboard_starts_in_the_warm_process_and_follows_a_resize(orch: Orch, terminal: Server) -> None:
    """`orchtui` alone is forked from the warm process (Textual imported already); a
    resize of the caller's terminal reaches it (SIGWINCH passed on), and q ends it."""
    sid = orch.new("dash")
    orch.wait_status(sid, "idle")
    warm = wait_for(lambda: warm_process(orch), 30)
    wait_for(lambda: (orch.home / "run" / "cli.sock").exists(), 30)
    run_in_terminal(terminal, orch)
    wait_for(lambda: sid in pane_text(terminal), 30)
    assert len(warm.children()) == 1  # the dashboard, forked from the warm process

    def title_at() -> int:
        return pane_text(terminal).splitlines()[0].find("orchtui")

    wide = title_at()
    assert wide > 50  # centred in 150 columns
    terminal.cmd("resize-window", "-t", "term", "-x", "80", "-y", "24")
    wait_for(lambda: 0 <= title_at() < 40, 20)  # redrawn for 80 columns, not cropped
    assert sid in pane_text(terminal)
    terminal.cmd("send-keys", "-t", "term", "q")
    wait_for(lambda: not warm.children(), 20)
