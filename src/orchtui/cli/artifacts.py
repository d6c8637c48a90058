"""`orchtui artifact add|list`: evidence a person or an agent records for a run (a URL,
a file, a report, a metric such as a jury's score), which `artifact_exists` gates can
require by kind and label and `metric_threshold` gates read (`metric:<label>`)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import click

from orchtui.cli.app import App, json_option, pass_app
from orchtui.cli.output import emit_json
from orchtui.controls import shown_safe
from orchtui.errors import UsageError
from orchtui.store.db import now
from orchtui.store.tables import Artifact

KINDS = ("url", "file", "report", "metric")
LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
VALUE_LIMIT = 64 * 1024


@click.group()
def artifact() -> None:
    """Evidence for a run: URLs, files, reports (gates can require them)."""


@artifact.command("add")
@click.option("--run", "run_id", default=None, help="The run (default: the run of this agent session).")
@click.option("--kind", required=True, type=click.Choice(KINDS), help="What it is.")
@click.option("--label", required=True, help="Its name within the kind, e.g. preview, coverage.")
@click.argument("value")
@json_option
@pass_app
def add(app: App, run_id: str | None, kind: str, label: str, value: str, as_json: bool) -> None:
    """Record VALUE for a run (--run; default: the run of the agent session this runs in,
    from $ORCHTUI_SESSION_ID). A file is recorded by its absolute path and must exist."""
    from orchtui.services.run_stages import session_stage

    ctx = app.ctx
    if not LABEL.fullmatch(label):
        raise UsageError(f"--label {label!r}: use 1-64 of A-Z a-z 0-9 _ . - starting with a letter or digit")
    if not value.strip() or len(value.encode()) > VALUE_LIMIT:
        raise UsageError(f"VALUE: empty, or longer than {VALUE_LIMIT // 1024} KB")
    session_id = os.environ.get("ORCHTUI_SESSION_ID")
    session = ctx.records.find_session(session_id) if session_id else None
    if run_id is None:
        run_id = session.run_id if session is not None else None
        if run_id is None:
            raise UsageError("name the run with --run; this is not an agent session of a run")
    run = ctx.runs.get(run_id)
    stage = run.stage or ""  # stages side by side: the one this agent works in
    if session is not None and session.run_id == run.id:
        stage = session_stage(ctx, run, session.task) or stage
    path = None
    if kind == "metric":  # a number a metric_threshold gate reads, e.g. a jury's score
        try:
            number = float(value)
        except ValueError:
            raise UsageError(f"VALUE {value!r}: a metric is a number") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise UsageError(f"VALUE {value!r}: a metric is a finite number")
        value = repr(number)
    if kind == "file":
        found = Path(value).expanduser().resolve()
        if not found.is_file():
            raise UsageError(f"{value}: no such file")
        path = value = str(found)
    row = ctx.runs.add_artifact(
        Artifact(run_id=run.id, stage=stage, name=f"{kind}:{label}", path=path, content=value, at=now())
    )
    ctx.wake_engine(f"artifact {run.id}")  # a gate may be waiting for it
    if as_json:
        emit_json({"run": run.id, "stage": row.stage, "name": row.name, "value": row.content})
    else:
        click.echo(f"recorded {row.name} for run {run.id} (stage {row.stage})")


@artifact.command("list")
@click.argument("run_id")
@json_option
@pass_app
def list_(app: App, run_id: str, as_json: bool) -> None:
    """What RUN_ID has recorded: stage summaries, metrics and added evidence."""
    rows = app.ctx.runs.artifact_rows(app.ctx.runs.get(run_id).id)
    if as_json:
        emit_json([{"stage": r.stage, "name": r.name, "value": r.content, "at": r.at} for r in rows])
        return
    for r in rows:
        first = (r.content.splitlines() or [""])[0]
        click.echo(f"{r.stage:12} {r.name:28} {shown_safe(first)[:80]}")
