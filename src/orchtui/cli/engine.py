"""`orchtui engine …`: run, start, stop and ask about the engine daemon."""

from __future__ import annotations

import sys

import click

from orchtui.cli.app import App, json_option, pass_app
from orchtui.cli.output import emit_json
from orchtui.engine import daemon
from orchtui.services import engine_process


@click.group()
def engine() -> None:
    """The background engine that watches agents and delivers prompts."""


@engine.command("run")
@pass_app
def engine_run(app: App) -> None:
    """Run the engine in the foreground."""
    sys.exit(daemon.run_foreground(app.config))


@engine.command("start")
@pass_app
def engine_start(app: App) -> None:
    """Start the engine in the background (CLI verbs do this on demand)."""
    click.echo(engine_process.ensure_running(app.config))


@engine.command("stop")
@pass_app
def engine_stop(app: App) -> None:
    """Stop the engine. Agents keep running; the next start re-adopts them."""
    pid = engine_process.stop(app.config)
    click.echo(f"stopped {pid}" if pid else "not running")


@engine.command("status")
@json_option
@pass_app
def engine_status(app: App, as_json: bool) -> None:
    """Is the engine running?"""
    pid = engine_process.engine_pid(app.config)
    if as_json:
        emit_json({"running": pid is not None, "pid": pid})
    else:
        click.echo(f"running (pid {pid})" if pid else "not running")
