"""`orchtui doctor`, `ledger` and `events`: what is installed, what was sent, what happened."""

from __future__ import annotations

import os
import platform
from typing import Any

import click

from orchtui import __version__
from orchtui.cli.app import App, json_option, pass_app
from orchtui.cli.output import command_json, emit_json, iso, one_line, table
from orchtui.errors import OrchtuiError
from orchtui.services import engine_process
from orchtui.trust import refusal as trust_refusal


# doctor -------------------------------------------------------------------
@click.command()
@json_option
@pass_app
def doctor(app: App, as_json: bool) -> None:
    """Check tmux, git, agent CLIs on PATH and the configuration."""
    ctx = app.ctx
    from orchtui.services.repos import here

    info: dict[str, Any] = {
        "orchtui": __version__,
        "python": platform.python_version(),
        "tmux": ctx.tmux.version() or None,
        "git": None,
        "home": str(ctx.config.home),
        "config_sources": ctx.config.sources,
        "tmux_socket": ctx.config.socket_name,
        "database": ctx.config.db_url,
        "schema_version": ctx.store.schema_version,
        "engine_pid": engine_process.engine_pid(ctx.config),
        "agents": {
            p.name: {
                "command": p.shown_command,
                "installed": p.installed(),
                "ready": p.missing(os.environ) is None,
                "missing": p.missing(os.environ),
                "source": p.source,
            }
            for p in ctx.profiles.all()
        },
    }
    import subprocess

    proc = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False)
    info["git"] = proc.stdout.strip() or None
    try:
        info["repository"] = str(here())
    except OrchtuiError:
        info["repository"] = None
    info["untrusted"] = [trust_refusal(src, k, v) for k, (src, v) in ctx.config.untrusted.items()]
    ok = bool(info["tmux"] and info["git"])
    info["ok"] = ok
    if as_json:
        emit_json(info)
    else:
        for key in (
            "orchtui",
            "python",
            "tmux",
            "git",
            "home",
            "tmux_socket",
            "database",
            "schema_version",
            "engine_pid",
            "repository",
        ):
            click.echo(f"{key:15} {info[key] if info[key] is not None else '-'}")
        click.echo(f"{'config':15} {', '.join(info['config_sources']) or 'defaults'} (valid)")
        for name, agent in info["agents"].items():
            mark = "yes" if agent["ready"] else f"no: {agent['missing']}"
            click.echo(f"{'agent ' + name:15} {agent['command']}: {mark}")
        for line in info["untrusted"]:
            click.echo(f"{'untrusted':15} {line}")
    if not ok:
        raise OrchtuiError("tmux and git are required")


# ledger and events --------------------------------------------------------


@click.command()
@click.argument("session_id", required=False)
@json_option
@pass_app
def ledger(app: App, session_id: str | None, as_json: bool) -> None:
    """The command ledger: every prompt and takeover with each state change."""
    ctx = app.ctx
    app.keep_engine()
    if session_id:
        ctx.records.session(session_id)
    rows = ctx.ledger.rows(session_id)
    if as_json:
        emit_json([command_json(ctx.ledger, c) for c in rows])
        return
    table(
        [[str(c.id), c.session_id, c.kind, c.state, iso(c.queued_at) or "", one_line(c.text)] for c in rows],
        ["id", "session", "kind", "state", "queued", "text"],
    )


@click.command()
@click.argument("session_id", required=False)
@json_option
@pass_app
def events(app: App, session_id: str | None, as_json: bool) -> None:
    """The event log (status changes, kills, takeovers, delivery retries)."""
    from orchtui.services.as_json import event_json

    app.keep_engine()
    rows = app.ctx.records.events(session_id)
    if as_json:
        emit_json([event_json(e) for e in rows])
        return
    table(
        [[iso(e.at) or "", e.session_id or "-", e.kind, e.severity, one_line(e.message, 60)] for e in rows],
        ["at", "session", "kind", "severity", "message"],
    )
