"""`orchtui demo`: a throwaway repository with scripted agents at work.

It is a demo and says so; everything in it is real: its own tmux socket, real git
worktrees, the engine, the ledger. Until the dashboard lands it follows the event
log as a live feed; it answers permission prompts itself after a pause.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import click

from orchtui.config import load_config
from orchtui.domain import CommandKind
from orchtui.services import engine_process
from orchtui.services.context import Context
from orchtui.services.sessions import SessionService

SCENARIO = Path(__file__).resolve().parent.parent / "agents" / "scenarios" / "demo.toml"

TASKS = [
    ("add-tests", "Write tests for greet()"),
    ("write-docs", "Write the usage docs"),
    ("review", "Review the greet module for edge cases"),
]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _make_repo(root: Path) -> Path:
    repo = root / "demo-project"
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "demo@orchtui.invalid")
    _git(repo, "config", "user.name", "orchtui demo")
    (repo / "greet.py").write_text("def greet(name: str) -> str:\n    return f'hello {name}'\n")
    (repo / "README.md").write_text("# demo project\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "Initial commit")
    return repo


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def run_demo(keep: bool, seconds: float | None, feed: bool) -> None:
    # a closed terminal (SIGHUP) or a kill (SIGTERM) still runs the cleanup below
    signal.signal(signal.SIGHUP, _exit_on_signal)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    root = Path(tempfile.mkdtemp(prefix="orchtui-demo-"))
    home = root / "home"
    os.environ["ORCHTUI_HOME"] = str(home)
    os.environ.pop("ORCHTUI_TMUX_SOCKET", None)
    os.environ["ORCHTUI_SCRIPTED_SCENARIO"] = str(SCENARIO)
    repo = _make_repo(root)
    config = load_config(repo)
    ctx = Context(config)
    try:
        engine_process.ensure_running(config, cwd=repo)
        service = SessionService(ctx)
        for task, prompt in TASKS:
            service.create(repo, "scripted", task, prompt=prompt)
        if feed:
            _feed(ctx, repo, config.socket_name, seconds)
        else:
            from orchtui.ui.app import run_dashboard

            run_dashboard(ctx, repo, demo=True)
    finally:
        engine_process.stop(config)
        ctx.tmux.kill_server()
        ctx.store.close()
        if keep:
            click.echo(f"Demo kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
            click.echo("orchtui demo: cleaned up (throwaway repository, tmux server and state removed).")


def _feed(ctx: Context, repo: Path, socket: str, seconds: float | None) -> None:
    """The event log as a live text feed; permission prompts approved after 2 s."""
    click.secho(
        "orchtui DEMO: a throwaway repository with scripted agents (real tmux, git, ledger)",
        fg="yellow",
        bold=True,
    )
    click.echo(f"  repository  {repo}\n  tmux        tmux -L {socket} attach")
    seen = 0
    waiting_since: dict[str, float] = {}
    end = time.monotonic() + seconds if seconds else None
    service = SessionService(ctx)
    try:
        while end is None or time.monotonic() < end:
            events = ctx.records.events()
            for ev in events[seen:]:
                stamp = time.strftime("%H:%M:%S", time.localtime(ev.at))
                click.echo(f"  {stamp}  {ev.session_id or '-':8} {ev.kind:16} {ev.message}")
            seen = len(events)
            for row in ctx.records.sessions(live_only=True):
                if row.status != "waiting":
                    waiting_since.pop(row.id, None)
                    continue
                since = waiting_since.setdefault(row.id, time.monotonic())
                if time.monotonic() - since > 2.0:
                    service.queue(row.id, "y", kind=CommandKind.ANSWER, cause="demo approves after 2 s")
                    waiting_since[row.id] = time.monotonic() + 3600
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
