"""`orchtui wait`: block until a session or a run reaches a state (for scripts and CI)."""

from __future__ import annotations

import click

from orchtui.cli.app import App, fail, json_option, pass_app
from orchtui.cli.output import emit_json
from orchtui.services import waiting


@click.command("wait")
@click.argument("session_id", required=False)
@click.option("--run", "run_id", help="Wait for a playbook run instead of a session.")
@click.option(
    "--for",
    "goal",
    required=True,
    help="Session: idle, waiting, done (every prompt done) or exited. Run: approval, done or paused.",
)
@click.option("--timeout", default=600.0, show_default=True, help="Seconds before giving up (exit 124).")
@json_option
@pass_app
def wait(
    app: App, session_id: str | None, run_id: str | None, goal: str, timeout: float, as_json: bool
) -> None:
    """Wait until SESSION_ID (or --run RUN) reaches a state. Exit 0 when it does, 1 when
    it no longer can (the session ended, the run failed, the last prompt failed), 124 on
    timeout. Woken by the store's changes, not by polling."""
    if (session_id is None) == (run_id is None):
        fail("name a session, or --run RUN (not both)", 2)
    ctx = app.ctx
    app.keep_engine()
    if run_id is not None:
        check, what = waiting.run_goal(ctx, run_id, goal), f"run {run_id}: {goal}"
    else:
        assert session_id is not None
        check, what = waiting.session_goal(ctx, session_id, goal), f"session {session_id}: {goal}"
    reached = waiting.wait_for(ctx, check, timeout, what)
    if as_json:
        emit_json({"reached": reached.what, "detail": reached.detail})
    else:
        click.echo(f"{reached.what}{f' ({reached.detail})' if reached.detail else ''}")
