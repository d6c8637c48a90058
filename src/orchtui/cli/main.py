"""`orchtui` and its verbs. Errors are one line on stderr with a non-zero exit."""

from __future__ import annotations

import os
import platform
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from orchtui import __version__
from orchtui.cli import engine as engine_cli
from orchtui.cli import gitcmds, skillcmds, waitcmd
from orchtui.cli import report as report_cli
from orchtui.cli import runs as runs_cli
from orchtui.cli import sessions as sessions_cli
from orchtui.cli.app import App, fail, json_option, pass_app
from orchtui.cli.output import command_json, emit_json, iso, one_line, table
from orchtui.engine import daemon
from orchtui.errors import OrchtuiError


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


# ledger and events --------------------------------------------------------


@cli.command()
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


@cli.command()
@click.argument("session_id", required=False)
@json_option
@pass_app
def events(app: App, session_id: str | None, as_json: bool) -> None:
    """The event log (status changes, kills, takeovers, delivery retries)."""
    import json

    app.keep_engine()
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
@cli.command()
@click.option("--keep", is_flag=True, help="Keep the throwaway repository and state afterwards.")
@click.option("--feed", is_flag=True, help="No dashboard: print the event log as it happens.")
@click.option("--seconds", type=float, default=None, help="With --feed: stop after this many seconds.")
def demo(keep: bool, feed: bool, seconds: float | None) -> None:
    """The dashboard on a throwaway repository with scripted agents at work (a labelled demo)."""
    from orchtui.cli.demo import run_demo

    run_demo(keep, seconds, feed)


@cli.command(
    "agent",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
)
@click.pass_context
def agent(ctx: click.Context) -> None:
    """orchtui's own agent on the Anthropic SDK (`orchtui agent --help`)."""
    from orchtui.agents.builtin import main as agent_main

    sys.exit(agent_main(list(ctx.args)))


cli.add_command(sessions_cli.session)
cli.add_command(engine_cli.engine)
cli.add_command(report_cli.report)
cli.add_command(waitcmd.wait)
for group_verb in (gitcmds.commit, gitcmds.diff, gitcmds.merge, gitcmds.worktree, skillcmds.skills):
    cli.add_command(group_verb)
for verb in (
    runs_cli.plan,
    runs_cli.run_playbook,
    runs_cli.approvals,
    runs_cli.approve,
    runs_cli.reject,
    runs_cli.resume,
    runs_cli.runs,
):
    cli.add_command(verb)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        fail("aborted", 130)
    except click.ClickException as exc:
        fail(exc.format_message(), 2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except OrchtuiError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except Exception as exc:  # a bug: one line for the operator, the traceback in a file
        home = Path(os.environ.get("ORCHTUI_HOME") or Path.home())
        crash = home / "orchtui-crash.log"
        try:
            with crash.open("a", encoding="utf-8") as fh:
                fh.write(traceback.format_exc())
        except OSError:
            crash = Path("(not written)")
        fail(f"internal error: {exc.__class__.__name__}: {exc} (traceback in {crash})", 70)
