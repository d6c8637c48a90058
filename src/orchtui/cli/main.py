"""`orchtui` and its verbs. Errors are one line on stderr with a non-zero exit."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from pathlib import Path

import click

from orchtui import __version__
from orchtui.cli.app import App, fail
from orchtui.errors import OrchtuiError, StoreError

# verb -> "module:attribute". A verb's module (and what it needs: the store, git, tmux)
# is imported only when that verb runs, so `orchtui --version` imports almost nothing.
VERBS = {
    "session": "sessions:session",
    "engine": "engine:engine",
    "report": "report:report",
    "wait": "waitcmd:wait",
    "commit": "gitcmds:commit",
    "diff": "gitcmds:diff",
    "merge": "gitcmds:merge",
    "worktree": "gitcmds:worktree",
    "skills": "skillcmds:skills",
    "plan": "runs:plan",
    "run": "runs:run_playbook",
    "approvals": "runs:approvals",
    "approve": "runs:approve",
    "reject": "runs:reject",
    "resume": "runs:resume",
    "pause": "runs:pause",
    "cancel": "runs:cancel",
    "retry": "runs:retry",
    "runs": "runs:runs",
    "race": "racecmd:race",
    "doctor": "inspect:doctor",
    "ledger": "inspect:ledger",
    "events": "inspect:events",
    "trust": "trustcmd:trust",
    "artifact": "artifacts:artifact",
    "memory": "memorycmd:memory",
    "mcp": "mcpcmd:mcp",
    "serve": "servecmd:serve",
    "hosts": "hostscmd:hosts",
    "worker": "hostscmd:worker",
}


class Verbs(click.Group):
    """A group whose verbs are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *VERBS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in VERBS and cmd_name not in self.commands:
            module, attribute = VERBS[cmd_name].split(":")
            command = getattr(importlib.import_module(f"orchtui.cli.{module}"), attribute)
            assert isinstance(command, click.Command) and command.name == cmd_name, cmd_name
            self.add_command(command)
        return super().get_command(ctx, cmd_name)


@click.group(cls=Verbs, context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True)
@click.version_option(__version__, prog_name="orchtui")
@click.pass_context
def cli(click_ctx: click.Context) -> None:
    """orchtui: run a crew of AI coding agents in tmux windows and git worktrees.

    Without a command: the dashboard for the repository in the current directory."""
    app = click_ctx.ensure_object(App)
    if click_ctx.invoked_subcommand is None:
        from orchtui.services.repos import here
        from orchtui.ui.app import run_dashboard

        try:
            repo: Path | None = here()
        except OrchtuiError:
            repo = None
        run_dashboard(app.ctx, repo)


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


def store_fault(exc: BaseException) -> StoreError | None:
    """A SQLAlchemy database error as one line: its driver's own words (`database or disk
    is full`, `attempt to write a readonly database`, `database is locked`)."""
    if not type(exc).__module__.startswith("sqlalchemy"):
        return None
    cause = getattr(exc, "orig", None) or exc
    words = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
    return StoreError(f"database: {words}")


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
    except Exception as exc:  # a database fault, else a bug: one line, the traceback in a file
        if (fault := store_fault(exc)) is not None:
            fail(str(fault), fault.exit_code)
        home = Path(os.environ.get("ORCHTUI_HOME") or Path.home())
        crash = home / "orchtui-crash.log"
        try:
            with crash.open("a", encoding="utf-8") as fh:
                fh.write(traceback.format_exc())
        except OSError:
            crash = Path("(not written)")
        fail(f"internal error: {exc.__class__.__name__}: {exc} (traceback in {crash})", 70)
