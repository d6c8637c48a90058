"""`orchtui` and its verbs. Errors are one line on stderr with a non-zero exit."""

from __future__ import annotations

import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any, NoReturn

import click

from orchtui import __version__
from orchtui.cli.output import command_json, emit_json, iso, one_line, session_json, table
from orchtui.config import Config, load_config
from orchtui.domain import CommandKind, CommandState
from orchtui.engine import daemon
from orchtui.engine.context import Context
from orchtui.engine.sessions import SessionService, operator
from orchtui.errors import OrchtuiError, Refused, UsageError
from orchtui.store.tables import Command


class App:
    """Per-invocation state: the config and context are opened on first use."""

    def __init__(self) -> None:
        self._ctx: Context | None = None

    @property
    def ctx(self) -> Context:
        if self._ctx is None:
            self._ctx = Context(load_config())
        return self._ctx

    @property
    def config(self) -> Config:
        return self.ctx.config

    def engine(self) -> None:
        daemon.ensure_running(self.config)


pass_app = click.make_pass_decorator(App, ensure=True)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True)
@click.version_option(__version__, prog_name="orchtui")
@click.pass_context
def cli(click_ctx: click.Context) -> None:
    """orchtui: run a crew of AI coding agents in tmux windows and git worktrees.

    Without a command: the dashboard for the repository in the current directory."""
    app = click_ctx.ensure_object(App)
    if click_ctx.invoked_subcommand is None:
        from orchtui.runtime.git import GitRepo
        from orchtui.ui.app import run_dashboard

        try:
            repo: Path | None = GitRepo(Path.cwd()).root
        except OrchtuiError:
            repo = None
        run_dashboard(app.ctx, repo)


# doctor -------------------------------------------------------------------
@cli.command()
@json_option
@pass_app
def doctor(app: App, as_json: bool) -> None:
    """Check tmux, git, agent CLIs on PATH and the configuration."""
    ctx = app.ctx
    from orchtui.runtime.git import GitRepo

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
        "engine_pid": daemon.engine_pid(ctx.config),
        "agents": {
            p.name: {"command": p.executable, "installed": p.installed(), "source": p.source}
            for p in ctx.profiles.all()
        },
    }
    import subprocess

    proc = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False)
    info["git"] = proc.stdout.strip() or None
    try:
        info["repository"] = str(GitRepo(Path.cwd()).root)
    except OrchtuiError:
        info["repository"] = None
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
            mark = "yes" if agent["installed"] else "no (not on PATH)"
            click.echo(f"{'agent ' + name:15} {agent['command']}: {mark}")
    if not ok:
        raise OrchtuiError("tmux and git are required")


# sessions -----------------------------------------------------------------
@cli.group()
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
    if records.sessions(live_only=True):
        app.engine()
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
            click.echo(f"{key:16} {value if value is not None else '-'}")
    if "screen" in data:
        click.echo("\n" + data["screen"])


@session.command("send")
@click.argument("session_id")
@click.argument("text")
@click.option("--wait/--no-wait", default=True, help="Wait until the agent received it (default).")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for delivery.")
@json_option
@pass_app
def session_send(app: App, session_id: str, text: str, wait: bool, timeout: float, as_json: bool) -> None:
    """Queue TEXT for the agent (use - to read it from stdin). It is delivered literally,
    never through a shell, as soon as the agent is at its prompt."""
    if text == "-":
        text = sys.stdin.read()
    if not text.strip():
        raise UsageError("TEXT: the prompt is empty")
    app.ctx.records.session(session_id)
    app.engine()
    cmd = SessionService(app.ctx).queue(session_id, text)
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
    end = time.monotonic() + timeout
    waiting = (CommandState.QUEUED.value, CommandState.ISSUED.value)
    while True:
        cmd = ctx.ledger.get(command_id)
        if cmd.state not in waiting or time.monotonic() > end:
            return cmd
        time.sleep(0.05)


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
    """Take over: attach this terminal to the agent's window (detach with prefix d).
    Queued prompts wait until you hand it back; the ledger records both ends."""
    if not sys.stdin.isatty():
        raise UsageError("attach needs a terminal")
    app.engine()
    click.echo(f"Taking over {session_id}. Detach with your tmux prefix then d (default Ctrl-b d).")
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


# playbooks ----------------------------------------------------------------
@cli.command()
@click.argument("playbook", type=click.Path(path_type=Path))
@click.option("--task", "-t", required=True, help="Task name (as for session new).")
@json_option
@pass_app
def plan(app: App, playbook: Path, task: str, as_json: bool) -> None:
    """Validate PLAYBOOK (a file, or a name in playbooks/) and show its allocation plan:
    per stage and role, the agent chosen, how many, the worktree, and what cannot be
    filled and why. Changes nothing."""
    from orchtui.engine.allocation import plan_playbook
    from orchtui.engine.capacity import Slot
    from orchtui.names import validate_task
    from orchtui.playbook import load_playbook
    from orchtui.runtime.git import GitRepo

    ctx = app.ctx
    validate_task(task)
    path = _playbook_path(playbook)
    profiles = {p.name: p for p in ctx.profiles.all()}
    book = load_playbook(path, set(profiles))
    root = GitRepo(Path.cwd()).root
    project = next((p for p in [ctx.records.find_project(str(root))] if p is not None), None)
    project_id = project.id if project and project.id is not None else -1
    live = [Slot(r.project_id, r.agent, r.role) for r in ctx.records.sessions(live_only=True)]
    plans = plan_playbook(book, project_id, ctx.config.limits, live, lambda name: profiles[name].installed())
    if as_json:
        emit_json(
            {
                "playbook": book.name,
                "task": task,
                "stages": [
                    {
                        "stage": p.stage,
                        "automation": p.automation,
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
            click.echo(f"  {p.stage} ({p.automation}){'' if p.fillable else '  ✖ cannot start'}")
            for a in p.assignments:
                who = f"{a.count} × {a.profile}" if a.profile else "unfilled"
                note = f"  [{a.reason}]" if a.reason else ""
                click.echo(f"    {a.role:<12} {who:<16} worktree {a.worktree}{note}")
    blocked = [p.stage for p in plans if not p.fillable]
    if blocked:
        raise Refused(f"cannot fill every role of: {', '.join(blocked)}")


def _playbook_path(playbook: Path) -> Path:
    """A file, or a name looked up in the repository's .orchtui/playbooks/, the user's
    playbooks/ beside the config file, then the playbooks shipped with orchtui."""
    from orchtui import paths
    from orchtui.runtime.git import GitRepo

    if playbook.suffix in (".yaml", ".yml"):
        return playbook
    folders = [paths.user_config_file().parent / "playbooks", paths.shipped("playbooks")]
    try:
        folders.insert(0, GitRepo(Path.cwd()).root / ".orchtui" / "playbooks")
    except OrchtuiError:
        pass
    for folder in folders:
        if (folder / f"{playbook}.yaml").is_file():
            return folder / f"{playbook}.yaml"
    raise UsageError(f"no playbook {str(playbook)!r} (looked in {', '.join(str(f) for f in folders)})")


@cli.command("run")
@click.argument("playbook", type=click.Path(path_type=Path))
@click.option("--task", "-t", required=True, help="Task name; the run's branch is orchtui/<task>.")
@click.option("--headless", is_flag=True, help="Follow the run here until it ends or needs a person.")
@click.option(
    "--timeout", default=3600.0, show_default=True, help="With --headless: give up after this long."
)
@pass_app
def run_playbook(app: App, playbook: Path, task: str, headless: bool, timeout: float) -> None:
    """Run PLAYBOOK for a task: validated and planned first, then advanced by the engine
    stage by stage (approvals with `orchtui approvals` / `approve` / `reject`)."""
    import secrets

    from orchtui.domain import RunState
    from orchtui.engine.runs import skill_instructions
    from orchtui.names import validate_task
    from orchtui.playbook import load_playbook
    from orchtui.runtime.git import GitRepo
    from orchtui.store.tables import Run

    ctx = app.ctx
    validate_task(task)
    path = _playbook_path(playbook)
    book = load_playbook(path, {p.name for p in ctx.profiles.all()})
    for stage in book.stages:
        for role in stage.roles:
            if role.skill:
                try:
                    skill_instructions(role.skill)
                except OSError:
                    raise UsageError(
                        f"{path}: stages.{stage.id}.roles.{role.role}.skill: "
                        f"no skill {role.skill!r} in skills/"
                    ) from None
    repo = GitRepo(Path.cwd())
    branch = f"{ctx.config.worktrees.branch_prefix}{task}"
    if repo.branch_exists(branch):
        raise UsageError(f"branch {branch!r} already exists; choose another task name")
    from orchtui.engine.context import project_slug

    project = ctx.records.project_for(str(repo.root), repo.root.name, f"orchtui-{project_slug(repo.root)}")
    assert project.id is not None
    app.engine()
    at = time.time()
    run = ctx.runs.add(
        Run(
            id=secrets.token_hex(3),
            project_id=project.id,
            playbook=book.name,
            playbook_path=str(path.resolve()),
            task=task,
            state=RunState.PENDING.value,
            created_at=at,
            updated_at=at,
        )
    )
    ctx.wake_engine(f"run {run.id}")
    click.echo(run.id)
    if not headless:
        return
    seen = 0
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        events = [e for e in ctx.records.events() if f'"run": "{run.id}"' in e.data]
        for ev in events[seen:]:
            click.echo(f"{iso(ev.at)}  {ev.kind:18} {ev.message}")
        seen = len(events)
        current = ctx.runs.get(run.id)
        if current.state == RunState.DONE.value:
            return
        if current.state in (RunState.FAILED.value, RunState.CANCELLED.value, RunState.PAUSED.value):
            raise OrchtuiError(f"run {run.id} {current.state}: {current.detail}")
        time.sleep(0.2)
    raise OrchtuiError(f"run {run.id} still {ctx.runs.get(run.id).state} after {timeout:.0f}s")


@cli.command()
@click.option("--all", "show_all", is_flag=True, help="Include decided approvals.")
@json_option
@pass_app
def approvals(app: App, show_all: bool, as_json: bool) -> None:
    """Approvals waiting for a person (with what they show)."""
    import json

    rows = app.ctx.runs.approvals(pending_only=not show_all)
    if as_json:
        emit_json(
            [
                {
                    "id": a.id,
                    "run": a.run_id,
                    "stage": a.stage,
                    "action": a.action,
                    "state": a.state,
                    "who": a.who,
                    "reason": a.reason,
                    "created_at": iso(a.created_at),
                    "decided_at": iso(a.decided_at),
                    "shown": json.loads(a.shown),
                }
                for a in rows
            ]
        )
        return
    table(
        [[str(a.id), a.run_id, a.stage, a.action, a.state, a.who or "-"] for a in rows],
        ["id", "run", "stage", "action", "state", "who"],
    )


@cli.command()
@click.argument("approval_id", type=int)
@pass_app
def approve(app: App, approval_id: int) -> None:
    """Approve; recorded with your OS user and the time."""
    row = app.ctx.runs.decide(approval_id, True, operator())
    app.ctx.wake_engine(f"approval {approval_id}")
    click.echo(f"approved {row.id} ({row.run_id} {row.stage}: {row.action})")


@cli.command()
@click.argument("approval_id", type=int)
@click.option("--reason", "-r", required=True, help="Why (recorded).")
@pass_app
def reject(app: App, approval_id: int, reason: str) -> None:
    """Reject with a reason; the run pauses for the operator."""
    row = app.ctx.runs.decide(approval_id, False, operator(), reason)
    app.ctx.wake_engine(f"approval {approval_id}")
    click.echo(f"rejected {row.id} ({row.run_id} {row.stage}: {row.action})")


@cli.command()
@json_option
@pass_app
def runs(app: App, as_json: bool) -> None:
    """Playbook runs and where each one is."""
    rows = app.ctx.runs.all()
    if as_json:
        emit_json(
            [
                {
                    "id": r.id,
                    "playbook": r.playbook,
                    "task": r.task,
                    "state": r.state,
                    "stage": r.stage,
                    "attempt": r.attempt,
                    "detail": r.detail,
                    "created_at": iso(r.created_at),
                }
                for r in rows
            ]
        )
        return
    table(
        [
            [r.id, r.playbook, r.task, r.state, r.stage or "-", str(r.attempt), one_line(r.detail or "", 40)]
            for r in rows
        ],
        ["id", "playbook", "task", "state", "stage", "attempt", "detail"],
    )


# ledger and events --------------------------------------------------------
@cli.command()
@click.argument("session_id", required=False)
@json_option
@pass_app
def ledger(app: App, session_id: str | None, as_json: bool) -> None:
    """The command ledger: every prompt and takeover with each state change."""
    ctx = app.ctx
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


@cli.command()
@click.argument("session_id", required=False)
@json_option
@pass_app
def events(app: App, session_id: str | None, as_json: bool) -> None:
    """The event log (status changes, kills, takeovers, delivery retries)."""
    import json

    rows = app.ctx.records.events(session_id)
    if as_json:
        emit_json(
            [
                {
                    "id": e.id,
                    "at": iso(e.at),
                    "session": e.session_id,
                    "kind": e.kind,
                    "severity": e.severity,
                    "message": e.message,
                    "data": json.loads(e.data),
                }
                for e in rows
            ]
        )
        return
    table(
        [[iso(e.at) or "", e.session_id or "-", e.kind, e.severity, one_line(e.message, 60)] for e in rows],
        ["at", "session", "kind", "severity", "message"],
    )


# engine -------------------------------------------------------------------
@cli.group()
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
    click.echo(daemon.ensure_running(app.config))


@engine.command("stop")
@pass_app
def engine_stop(app: App) -> None:
    """Stop the engine. Agents keep running; the next start re-adopts them."""
    pid = daemon.stop(app.config)
    click.echo(f"stopped {pid}" if pid else "not running")


@engine.command("status")
@json_option
@pass_app
def engine_status(app: App, as_json: bool) -> None:
    """Is the engine running?"""
    pid = daemon.engine_pid(app.config)
    if as_json:
        emit_json({"running": pid is not None, "pid": pid})
    else:
        click.echo(f"running (pid {pid})" if pid else "not running")


@cli.command()
@click.option("--keep", is_flag=True, help="Keep the throwaway repository and state afterwards.")
@click.option("--feed", is_flag=True, help="No dashboard: print the event log as it happens.")
@click.option("--seconds", type=float, default=None, help="With --feed: stop after this many seconds.")
def demo(keep: bool, feed: bool, seconds: float | None) -> None:
    """The dashboard on a throwaway repository with scripted agents at work (a labelled demo)."""
    from orchtui.cli.demo import run_demo

    run_demo(keep, seconds, feed)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"orchtui: error: {message}", err=True)
    sys.exit(code)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        _fail("aborted", 130)
    except click.ClickException as exc:
        _fail(exc.format_message(), 2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except OrchtuiError as exc:
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:  # a bug: one line for the operator, the traceback in a file
        home = Path(os.environ.get("ORCHTUI_HOME") or Path.home())
        crash = home / "orchtui-crash.log"
        try:
            with crash.open("a", encoding="utf-8") as fh:
                fh.write(traceback.format_exc())
        except OSError:
            crash = Path("(not written)")
        _fail(f"internal error: {exc.__class__.__name__}: {exc} (traceback in {crash})", 70)
