"""`orchtui session …`: start, list, show, prompt, answer, attach, restart and kill agents."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from orchtui.cli.app import App, json_option, pass_app
from orchtui.cli.output import command_json, emit_json, session_json, table
from orchtui.controls import shown_safe
from orchtui.domain import CommandState, SessionStatus
from orchtui.errors import OrchtuiError, UsageError
from orchtui.services import host_actions, screen_share, waiting
from orchtui.services.context import Context
from orchtui.services.sessions import SessionService
from orchtui.services.why import explain
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
@click.option(
    "--supervisor",
    is_flag=True,
    help="Give the agent orchtui's MCP server (this session only) to run other agents with.",
)
@click.option(
    "--host",
    default=None,
    help="The fleet's host to run it on (`orchtui hosts`; default: this one while it has the "
    "agent and room, else the live host with the most room). The repository must be at the same path there.",
)
@json_option
@pass_app
def session_new(
    app: App,
    agent: str,
    task: str,
    prompt: str | None,
    base: str | None,
    repo: Path | None,
    supervisor: bool,
    host: str | None,
    as_json: bool,
) -> None:
    """Start an agent in its own worktree and tmux window. Prints the new session id."""
    service = SessionService(app.ctx)
    app.ctx.profiles.get(agent)
    app.start_engine()
    path = (repo or Path.cwd()).resolve()
    row = service.create(path, agent, task, base, prompt, supervisor=supervisor, host=host)
    if as_json:
        emit_json(session_json(app.ctx.records, row))
    else:
        click.echo(row.id)


@session.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include ended sessions (not archived ones).")
@click.option("--archived", is_flag=True, help="Include archived sessions too.")
@json_option
@pass_app
def session_list(app: App, show_all: bool, archived: bool, as_json: bool) -> None:
    """List sessions (live ones unless --all; archived ones only with --archived)."""
    records = app.ctx.records
    app.keep_engine()
    rows = records.sessions(live_only=not (show_all or archived))
    rows = [r for r in rows if archived or r.archived_at is None]
    worktrees = records.worktrees()  # one query, not one a row
    if as_json:
        emit_json([session_json(records, r, worktrees) for r in rows])
        return
    data = []
    for r in rows:
        js = session_json(records, r, worktrees)
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
    if SessionStatus(row.status).live:
        app.start_engine()
    here = host_actions.owner(ctx, row) is None
    if screen and here and row.tmux_pane and row.status not in (SessionStatus.KILLED, SessionStatus.LOST):
        data["screen"] = ctx.tmux.capture_text(row.tmux_pane)
    elif screen and not here and SessionStatus(row.status).live:  # published by its host's worker
        shared = screen_share.shown_now(ctx, row)
        if shared is None:
            click.echo(f"host {row.host} published no screen of {session_id} in time", err=True)
        else:
            data["screen"] = screen_share.as_text(shared)
            data["screen_published_at"] = shared.published_at
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
    app.start_engine()
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
    if cmd.delivered_at is None and cmd.state in (CommandState.FAILED, CommandState.CANCELLED):
        raise OrchtuiError(f"ledger row {cmd.id} {cmd.state}: {cmd.error or _last_cause(ctx, cmd.id or 0)}")


def _last_cause(ctx: Context, command_id: int) -> str:
    transitions = ctx.ledger.transitions(command_id)
    return transitions[-1].cause if transitions else ""


def _wait_delivery(ctx: Context, command_id: int, timeout: float) -> Command:
    waiting_states = (CommandState.QUEUED, CommandState.ISSUED)

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
    app.start_engine()
    cmd = SessionService(ctx).answer(session_id, decision == "approve")
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
    app.start_engine()
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


@session.command("fork")
@click.argument("session_id")
@click.option("--task", "-t", default=None, help="The new task name (default: <task>-fork).")
@json_option
@pass_app
def session_fork(app: App, session_id: str, task: str | None, as_json: bool) -> None:
    """A new session in a new worktree branched from this session's branch, resuming a
    copy of its conversation (Claude Code, Codex); for other agents a new conversation
    whose first prompt sums up the other's prompts and commits."""
    app.start_engine()
    row, copied = SessionService(app.ctx).fork(session_id, task)
    if as_json:
        emit_json(session_json(app.ctx.records, row) | {"conversation_copied": copied})
        return
    how = "with a copy of its conversation" if copied else "in a new conversation seeded with a summary"
    click.echo(f"{row.id} (forked from {session_id} {how})")


@session.command("archive")
@click.argument("session_ids", nargs=-1)
@click.option("--ended", is_flag=True, help="Every ended session.")
@click.option("--undo", is_flag=True, help="Bring archived sessions back into the list.")
@json_option
@pass_app
def session_archive(app: App, session_ids: tuple[str, ...], ended: bool, undo: bool, as_json: bool) -> None:
    """Put ended sessions away: the dashboard and `session list` hide them (A shows them,
    `--archived` lists them). Nothing is deleted: branches, worktrees and ledgers stay."""
    if not session_ids and not ended:
        raise UsageError("name the sessions to archive, or --ended for every ended one")
    changed = SessionService(app.ctx).archive(list(session_ids), ended=ended, undo=undo)
    if as_json:
        emit_json({"archived" if not undo else "restored": changed})
        return
    click.echo(f"{'restored' if undo else 'archived'} {len(changed)}: {', '.join(changed) or 'none'}")


@session.command("restart")
@click.argument("session_id")
@json_option
@pass_app
def session_restart(app: App, session_id: str, as_json: bool) -> None:
    """Start an ended agent again in its worktree, resuming its exact conversation
    (Claude Code, Codex, Gemini). Prompts it already received are not sent again."""
    app.start_engine()
    row = SessionService(app.ctx).restart(session_id)
    if as_json:
        emit_json(session_json(app.ctx.records, row))
        return
    click.echo(f"restarted {row.id}: {row.status_detail}")
