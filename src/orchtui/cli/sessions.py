"""`orchtui session …`: start, list, show, prompt, answer, attach, restart and kill agents."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from orchtui.cli.app import App, json_option, pass_app
from orchtui.cli.output import command_json, emit_json, session_json, table
from orchtui.controls import shown_safe
from orchtui.domain import CommandKind, CommandState
from orchtui.engine import waiting
from orchtui.engine.context import Context
from orchtui.engine.sessions import SessionService
from orchtui.engine.why import explain
from orchtui.errors import OrchtuiError, UsageError
from orchtui.store.tables import Command


@click.group()
def session() -> None:
    """Create, inspect, drive and stop agent sessions."""


@session.command("new")
@click.option("--agent", "-a", required=True, help="Agent profile (see `orchtui doctor`).")
@click.option("--task", "-t", required=True, help="Task name; becomes the worktree folder and branch.")
@click.option("--prompt", "-p", default=None, help="First prompt, sent when the agent is ready.")
@click.option("--base", "-b", default=None, help="Base branch (default: the current branch).")
@click.option(
    "--repo",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Repository (default: the current directory).",
)
@json_option
@pass_app
def session_new(
    app: App, agent: str, task: str, prompt: str | None, base: str | None, repo: Path | None, as_json: bool
) -> None:
    """Start an agent in its own worktree and tmux window. Prints the new session id."""
    service = SessionService(app.ctx)
    app.ctx.profiles.get(agent)
    app.engine()
    row = service.create((repo or Path.cwd()).resolve(), agent, task, base, prompt)
    if as_json:
        emit_json(session_json(app.ctx.records, row))
    else:
        click.echo(row.id)


@session.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include ended sessions.")
@json_option
@pass_app
def session_list(app: App, show_all: bool, as_json: bool) -> None:
    """List sessions (live ones unless --all)."""
    records = app.ctx.records
    app.keep_engine()
    rows = records.sessions(live_only=not show_all)
    if as_json:
        emit_json([session_json(records, r) for r in rows])
        return
    data = []
    for r in rows:
        js = session_json(records, r)
        data.append(
            [
                r.id,
                r.agent,
                r.task,
                r.status + (f" ({r.exit_code})" if r.exit_code is not None else ""),
                js["branch"] or "-",
                _age(r.status_at),
            ]
        )
    table(data, ["id", "agent", "task", "status", "branch", "since"])


def _age(ts: float) -> str:
    secs = int(time.time() - ts)
    return f"{secs}s" if secs < 120 else f"{secs // 60}m" if secs < 7200 else f"{secs // 3600}h"


@session.command("show")
@click.argument("session_id")
@click.option("--screen", is_flag=True, help="Also print the agent's current screen.")
@json_option
@pass_app
def session_show(app: App, session_id: str, screen: bool, as_json: bool) -> None:
    """Show one session."""
    ctx = app.ctx
    row = ctx.records.session(session_id)
    data = session_json(ctx.records, row)
    if row.status not in ("exited", "killed", "lost"):
        app.engine()
    if screen and row.tmux_pane and row.status not in ("killed", "lost"):
        data["screen"] = ctx.tmux.capture_text(row.tmux_pane)
    if as_json:
        emit_json(data)
        return
    for key, value in data.items():
        if key != "screen":
            click.echo(f"{key:16} {shown_safe(str(value)) if value is not None else '-'}")
    if "screen" in data:
        click.echo("\n" + data["screen"])


@session.command("send")
@click.argument("session_id")
@click.argument("text")
@click.option("--wait/--no-wait", default=True, help="Wait until the agent received it (default).")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for delivery.")
@click.option(
    "--now",
    is_flag=True,
    help="Deliver at once, even while the agent works or a budget holds prompts back.",
)
@json_option
@pass_app
def session_send(
    app: App, session_id: str, text: str, wait: bool, timeout: float, now: bool, as_json: bool
) -> None:
    """Queue TEXT for the agent (use - to read it from stdin). It is delivered literally,
    never through a shell, as soon as the agent is at its prompt (with --now: at once)."""
    if text == "-":
        text = sys.stdin.read()
    if not text.strip():
        raise UsageError("TEXT: the prompt is empty")
    app.ctx.records.session(session_id)
    app.engine()
    cmd = SessionService(app.ctx).queue(session_id, text, urgent=now)
    _report_command(app.ctx, cmd, wait, timeout, as_json)


def _report_command(ctx: Context, cmd: Command, wait: bool, timeout: float, as_json: bool) -> None:
    """Wait for a queued row to be delivered (or to fail), print it; exit non-zero when it
    never reached the agent (a row delivered and then failed, e.g. the agent exited, counts
    as delivered)."""
    assert cmd.id is not None
    if wait:
        cmd = _wait_delivery(ctx, cmd.id, timeout)
    if as_json:
        emit_json(command_json(ctx.ledger, cmd))
    else:
        click.echo(f"{cmd.id} {cmd.state}")
    if cmd.delivered_at is None and cmd.state in (CommandState.FAILED.value, CommandState.CANCELLED.value):
        raise OrchtuiError(f"ledger row {cmd.id} {cmd.state}: {cmd.error or _last_cause(ctx, cmd.id or 0)}")


def _last_cause(ctx: Context, command_id: int) -> str:
    transitions = ctx.ledger.transitions(command_id)
    return transitions[-1].cause if transitions else ""


def _wait_delivery(ctx: Context, command_id: int, timeout: float) -> Command:
    waiting_states = (CommandState.QUEUED.value, CommandState.ISSUED.value)

    def delivered() -> Command | None:
        cmd = ctx.ledger.get(command_id)
        return None if cmd.state in waiting_states else cmd

    return waiting.until(ctx, delivered, timeout) or ctx.ledger.get(command_id)


@session.command("why")
@click.argument("session_id")
@json_option
@pass_app
def session_why(app: App, session_id: str, as_json: bool) -> None:
    """Why the session is in its status (what said so, and the line or hook), and what
    its in-flight prompt waits for."""
    app.keep_engine()
    data = explain(app.ctx, session_id)
    if as_json:
        emit_json(data)
        return
    detail = shown_safe(data["detail"] or "-")
    click.echo(f"{data['id']} is {data['status']} (said by the {data['source']}: {detail})")
    if data["exit_code"] is not None:
        click.echo(f"exit code {data['exit_code']}")
    if data["taken_over"]:
        click.echo("taken over: queued prompts wait until it is handed back")
    cmd = data["command"]
    if cmd is None:
        click.echo("nothing queued or in flight")
    else:
        click.echo(f"ledger row {cmd['id']} ({cmd['kind']}) is {cmd['state']}: waits for {cmd['waits_for']}")
    if data["queued"]:
        click.echo(f"{data['queued']} prompt(s) queued")


@session.command("answer")
@click.argument("session_id")
@click.argument("decision", type=click.Choice(["approve", "reject"]))
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for the agent.")
@json_option
@pass_app
def session_answer(app: App, session_id: str, decision: str, timeout: float, as_json: bool) -> None:
    """Answer the agent's permission prompt (the key comes from its profile)."""
    ctx = app.ctx
    row = ctx.records.session(session_id)
    if row.status != "waiting":
        raise UsageError(f"session {session_id} is {row.status}, not waiting at a permission prompt")
    profile = ctx.profiles.get(row.agent)
    key = profile.answers.approve if decision == "approve" else profile.answers.reject
    app.engine()
    cmd = SessionService(ctx).queue(
        session_id, key, kind=CommandKind.ANSWER, cause=f"operator chose {decision}"
    )
    _report_command(ctx, cmd, True, timeout, as_json)


@session.command("attach")
@click.argument("session_id")
@pass_app
def session_attach(app: App, session_id: str) -> None:
    """Take over: attach this terminal to the agent's window (detach with Ctrl-q, or
    orchtui's tmux prefix then d).
    Queued prompts wait until you hand it back; the ledger records both ends."""
    if not sys.stdin.isatty():
        raise UsageError("attach needs a terminal")
    app.engine()
    key = app.ctx.config.tmux.detach_key
    click.echo(f"Taking over {session_id}. Detach with {key} (or orchtui's tmux prefix, then d).")
    SessionService(app.ctx).attach(session_id)
    click.echo(f"Handed {session_id} back to orchtui.")


@session.command("kill")
@click.argument("session_id")
@click.option(
    "--force",
    is_flag=True,
    help="Also remove a worktree with uncommitted changes "
    "(they are saved to refs/orchtui/rescue/<id> first).",
)
@click.option("--keep-worktree", is_flag=True, help="Stop the agent but leave its worktree in place.")
@json_option
@pass_app
def session_kill(app: App, session_id: str, force: bool, keep_worktree: bool, as_json: bool) -> None:
    """Stop an agent. Its branch is always kept; a dirty worktree needs --force."""
    report = SessionService(app.ctx).kill(session_id, force=force, keep_worktree=keep_worktree)
    if as_json:
        emit_json(report.__dict__)
        return
    click.echo(
        f"killed {session_id}; branch {report.branch} kept; worktree {report.worktree_state}"
        + (f"; uncommitted work saved to {report.rescue_ref}" if report.rescue_ref else "")
    )


@session.command("restart")
@click.argument("session_id")
@json_option
@pass_app
def session_restart(app: App, session_id: str, as_json: bool) -> None:
    """Start an ended agent again in its worktree, resuming its exact conversation
    (Claude Code, Codex, Gemini). Prompts it already received are not sent again."""
    app.engine()
    row = SessionService(app.ctx).restart(session_id)
    if as_json:
        emit_json(session_json(app.ctx.records, row))
        return
    click.echo(f"restarted {row.id}: {row.status_detail}")
