"""`orchtui memory show|add|search`: the project's memory across runs (decisions, review
findings, run summaries, notes), kept in ORCHTUI_HOME/memory/<project>/journal.jsonl."""

from __future__ import annotations

import os
from dataclasses import asdict

import click

from orchtui.cli.app import App, json_option, pass_app
from orchtui.cli.output import emit_json
from orchtui.controls import shown_safe
from orchtui.errors import UsageError
from orchtui.services import journal
from orchtui.services.sessions import operator
from orchtui.store.tables import Project


def _project(app: App, run_id: str | None) -> Project:
    """The run's project, else the repository this runs in (for an agent: its session's)."""
    ctx = app.ctx
    if run_id:
        return ctx.records.project(ctx.runs.get(run_id).project_id)
    session_id = os.environ.get("ORCHTUI_SESSION_ID")
    if session_id:
        return ctx.records.project(ctx.records.session(session_id).project_id)
    from orchtui.services.repos import here

    root = here()
    project = ctx.records.find_project(str(root))
    if project is None:
        raise UsageError(f"{root}: orchtui has no memory of this repository yet (no session or run here)")
    return project


def _show(entries: list[journal.Entry], as_json: bool) -> None:
    if as_json:
        emit_json([asdict(e) for e in entries])
        return
    if not entries:
        click.echo("Nothing recorded yet.")
    for entry in entries:
        click.echo(shown_safe(entry.shown()) + "\n")


@click.group()
def memory() -> None:
    """The project's memory across runs: decisions, review findings, run summaries, notes."""


@memory.command("show")
@click.option("--kind", type=click.Choice(journal.KINDS), default=None, help="Only entries of this kind.")
@click.option("--run", "run_id", default=None, help="The project of this run (default: this repository).")
@json_option
@pass_app
def show(app: App, kind: str | None, run_id: str | None, as_json: bool) -> None:
    """Every entry, oldest first."""
    _show(journal.entries(app.ctx, _project(app, run_id), kind), as_json)


@memory.command("add")
@click.option("--kind", type=click.Choice(journal.KINDS), default="note", show_default=True)
@click.option("--run", "run_id", default=None, help="The run it belongs to (default: this agent's run).")
@click.argument("text")
@json_option
@pass_app
def add(app: App, kind: str, run_id: str | None, text: str, as_json: bool) -> None:
    """Record TEXT in the project's memory (secrets are masked). Later prompts see it
    through {memory}."""
    run_id = run_id or os.environ.get("ORCHTUI_RUN_ID") or None
    session_id = os.environ.get("ORCHTUI_SESSION_ID")
    who = f"agent:{session_id}" if session_id else operator()
    entry = journal.add(app.ctx, _project(app, run_id), kind, text, who, run_id)
    if as_json:
        emit_json(asdict(entry))
    else:
        click.echo(f"recorded {entry.kind} ({len(entry.text)} characters)")


@memory.command("search")
@click.argument("words")
@json_option
@pass_app
def search(app: App, words: str, as_json: bool) -> None:
    """Entries holding every one of WORDS (case-insensitive)."""
    _show(journal.search(app.ctx, _project(app, None), words), as_json)
