"""Playbooks from the command line: plan, run, approvals, approve, reject, runs."""

from __future__ import annotations

from pathlib import Path

import click

from orchtui.cli.app import App, json_option, pass_app
from orchtui.cli.output import emit_json, one_line, table
from orchtui.controls import shown_safe
from orchtui.domain import RunState
from orchtui.errors import NeedsPerson, OrchtuiError, Refused
from orchtui.services import waiting
from orchtui.services.as_json import approval_json, iso, run_json
from orchtui.services.sessions import operator


@click.command()
@click.argument("playbook", type=click.Path(path_type=Path))
@click.option("--task", "-t", required=True, help="Task name (as for session new).")
@json_option
@pass_app
def plan(app: App, playbook: Path, task: str, as_json: bool) -> None:
    """Validate PLAYBOOK (a file, or a name in playbooks/) and show its allocation plan:
    per stage and role, the agent chosen, how many, the worktree, and what cannot be
    filled and why. Changes nothing."""
    from orchtui.names import validate_task
    from orchtui.playbook import load_playbook
    from orchtui.services.allocation import plan_playbook
    from orchtui.services.capacity import Slot
    from orchtui.services.repos import here

    ctx = app.ctx
    validate_task(task)
    path = _playbook_path(playbook)
    profiles = {p.name: p for p in ctx.profiles.all()}
    book = load_playbook(path, set(profiles))
    root = here()
    project = next((p for p in [ctx.records.find_project(str(root))] if p is not None), None)
    project_id = project.id if project and project.id is not None else -1
    live = [Slot(r.project_id, r.agent, r.role, r.host) for r in ctx.records.sessions(live_only=True)]
    plans = plan_playbook(book, project_id, ctx.config.limits, live, lambda name: profiles[name].installed())
    deps, waves = book.dependencies(), book.waves()
    if as_json:
        emit_json(
            {
                "playbook": book.name,
                "task": task,
                "stages": [
                    {
                        "stage": p.stage,
                        "automation": p.automation,
                        "needs": deps[p.stage],
                        "wave": waves[p.stage],
                        "fillable": p.fillable,
                        "roles": [a.__dict__ for a in p.assignments],
                    }
                    for p in plans
                ],
            }
        )
    else:
        click.echo(f"playbook {book.name} for task {task}")
        for p in plans:
            after = f"after {', '.join(deps[p.stage])}" if deps[p.stage] else "at the start"
            beside = [s for s, w in waves.items() if w == waves[p.stage] and s != p.stage]
            where = after + (f", beside {', '.join(beside)}" if beside else "")
            click.echo(f"  {p.stage} ({p.automation}) {where}{'' if p.fillable else '  ✖ cannot start'}")
            for a in p.assignments:
                who = f"{a.count} × {a.profile}" if a.profile else "unfilled"
                note = f"  [{a.reason}]" if a.reason else ""
                click.echo(f"    {a.role:<12} {who:<16} worktree {a.worktree}{note}")
    blocked = [p.stage for p in plans if not p.fillable]
    if blocked:
        raise Refused(f"cannot fill every role of: {', '.join(blocked)}")


def _playbook_path(playbook: Path) -> Path:
    from orchtui.services.playbook_files import find_playbook
    from orchtui.services.repos import here

    try:
        repo: Path | None = here()
    except OrchtuiError:
        repo = None
    return find_playbook(playbook, repo)


@click.command("run")
@click.argument("playbook", type=click.Path(path_type=Path))
@click.option("--task", "-t", required=True, help="Task name; the run's branch is orchtui/<task>.")
@click.option(
    "--repos",
    "repos",
    multiple=True,
    help="More repositories the run spans (comma-separated or repeated); one run per repository.",
)
@click.option(
    "--headless",
    is_flag=True,
    help="Follow the run here: exit 0 when done, 6 when it needs a person, 1 when it failed or "
    "paused, 124 on --timeout.",
)
@click.option(
    "--wait-for-approvals",
    is_flag=True,
    help="With --headless: keep following while an approval waits (someone answers elsewhere).",
)
@click.option(
    "--timeout", default=3600.0, show_default=True, help="With --headless: give up after this long."
)
@pass_app
def run_playbook(
    app: App,
    playbook: Path,
    task: str,
    repos: tuple[str, ...],
    headless: bool,
    wait_for_approvals: bool,
    timeout: float,
) -> None:
    """Run PLAYBOOK for a task: validated and planned first, then advanced by the engine
    stage by stage (approvals with `orchtui approvals` / `approve` / `reject`). With
    --repos, the current repository and each one given get a run of their own."""
    from orchtui.services.run_start import start_runs

    ctx = app.ctx
    extra = [Path(part).expanduser() for value in repos for part in value.split(",") if part.strip()]
    path = _playbook_path(playbook)
    runs, warnings = start_runs(ctx, path, task, Path.cwd(), extra)  # everything validated first
    for warning in warnings:
        click.echo(f"orchtui: warning: {warning}", err=True)
    app.start_engine()  # picks the new runs up as it starts, or at once when it runs already
    for run in runs:
        click.echo(run.id)
    if headless:
        _follow(app, [r.id for r in runs], timeout, wait_for_approvals)


def _follow(app: App, run_ids: list[str], timeout: float, wait_for_approvals: bool) -> None:
    """Print the runs' events as they happen, until every run is done (woken by the
    store's changes, like `orchtui wait`). Stops with exit 6 when a run waits for a
    person (unless told to wait), 1 when one failed or paused, 124 on timeout; then says
    what it leaves running."""
    ctx = app.ctx
    seen = 0

    def check() -> bool | None:
        nonlocal seen
        events = [e for e in ctx.records.events() if any(f'"run": "{rid}"' in e.data for rid in run_ids)]
        for ev in events[seen:]:
            click.echo(f"{iso(ev.at)}  {ev.kind:18} {shown_safe(ev.message)}")
        seen = len(events)
        current = [ctx.runs.get(rid) for rid in run_ids]
        for r in current:
            if r.state in (RunState.FAILED, RunState.CANCELLED, RunState.PAUSED):
                raise OrchtuiError(f"run {r.id} {r.state}: {r.detail}")
            if r.state == RunState.WAITING_APPROVAL and not wait_for_approvals:
                raise NeedsPerson(
                    f"run {r.id} needs a person: {r.detail} (`orchtui approvals`, `orchtui approve N`; "
                    f"then `orchtui wait --run {r.id} --for done`)"
                )
        return True if all(r.state == RunState.DONE for r in current) else None

    try:
        if waiting.until(ctx, check, timeout) is None:
            states = ", ".join(f"{rid} {ctx.runs.get(rid).state}" for rid in run_ids)
            raise waiting.TimedOut(f"runs still going after {timeout:.0f}s: {states}")
    except OrchtuiError:
        _say_what_is_left(app, run_ids)
        raise


def _say_what_is_left(app: App, run_ids: list[str]) -> None:
    """A headless run that stops short leaves the engine and the run's agents going."""
    agents = [s for s in app.ctx.records.sessions(live_only=True) if s.run_id in run_ids]
    if not agents:
        return
    listed = ", ".join(f"{s.id} ({s.agent} {s.role or ''}, {s.status})".replace(" ,", ",") for s in agents)
    click.echo(
        f"orchtui: left running: the engine and {len(agents)} agent(s) of the run: {listed}; "
        "`orchtui session kill ID` stops one",
        err=True,
    )


@click.command()
@click.option("--all", "show_all", is_flag=True, help="Include decided approvals.")
@json_option
@pass_app
def approvals(app: App, show_all: bool, as_json: bool) -> None:
    """Approvals waiting for a person (with what they show)."""

    app.keep_engine()
    rows = app.ctx.runs.approvals(pending_only=not show_all)
    if as_json:
        emit_json([approval_json(a) for a in rows])
        return
    table(
        [
            [str(a.id), a.run_id or f"session {a.session_id}", a.stage, a.action, a.state, a.who or "-"]
            for a in rows
        ],
        ["id", "about", "stage", "action", "state", "who"],
    )


@click.command()
@click.argument("approval_id", type=int)
@pass_app
def approve(app: App, approval_id: int) -> None:
    """Approve; recorded with your OS user and the time."""
    from orchtui.services import run_control

    row = run_control.answer(app.ctx, approval_id, True, operator())
    click.echo(f"approved {row.id} ({row.run_id or row.session_id} {row.stage}: {row.action})")


@click.command()
@click.argument("approval_id", type=int)
@click.option("--reason", "-r", required=True, help="Why (recorded).")
@pass_app
def reject(app: App, approval_id: int, reason: str) -> None:
    """Reject with a reason; the run pauses for the operator."""
    from orchtui.services import run_control

    row = run_control.answer(app.ctx, approval_id, False, operator(), reason)
    click.echo(f"rejected {row.id} ({row.run_id or row.session_id} {row.stage}: {row.action})")


@click.command()
@click.argument("run_id")
@pass_app
def resume(app: App, run_id: str) -> None:
    """Resume a paused run. A stage whose gates failed runs its agents again with the
    failures as feedback (a new attempt); a stage that had started goes on (its gates are
    checked again once its agents are done; prompts held by a budget go out when it
    allows); a stage whose start was rejected asks for approval again."""
    from orchtui.services import run_control

    run, how = run_control.resume(app.ctx, run_id, operator())
    app.start_engine()
    click.echo(f"resumed {run.id} at stage {run.stage} ({run.state}): {how}")


@click.command()
@click.argument("run_id")
@pass_app
def retry(app: App, run_id: str) -> None:
    """Retry a paused or failed run's current stage: a new attempt, its agents told what
    the last attempt's failed gates said."""
    from orchtui.services import run_control

    run = run_control.retry(app.ctx, run_id, operator())
    app.start_engine()
    click.echo(f"retrying {run.id}: stage {run.stage}, attempt {run.attempt}")


@click.command()
@json_option
@pass_app
def runs(app: App, as_json: bool) -> None:
    """Playbook runs and where each one is."""
    app.keep_engine()
    rows = app.ctx.runs.all()
    if as_json:
        emit_json([run_json(app.ctx.runs, r) for r in rows])
        return
    table(
        [
            [r.id, r.playbook, r.task, r.state, r.stage or "-", str(r.attempt), one_line(r.detail or "", 40)]
            for r in rows
        ],
        ["id", "playbook", "task", "state", "stage", "attempt", "detail"],
    )


@click.command()
@click.argument("run_id")
@click.option("--reason", default=None, help="Why (recorded with the run).")
@pass_app
def cancel(app: App, run_id: str, reason: str | None) -> None:
    """Cancel a run: its agents stop and its open prompts and approvals close; worktrees,
    branches, gates and memory are kept."""
    from orchtui.services import run_control

    run, stopped = run_control.cancel(app.ctx, run_id, operator(), reason)
    click.echo(f"cancelled {run.id} at stage {run.stage}; {len(stopped)} agent(s) stopped; worktrees kept")


@click.command()
@click.argument("run_id")
@pass_app
def pause(app: App, run_id: str) -> None:
    """Pause a run: nothing new starts (agents finish their turn); `orchtui resume` goes on."""
    from orchtui.services import run_control

    run = run_control.pause(app.ctx, run_id, operator())
    click.echo(f"paused {run.id} at stage {run.stage}")
