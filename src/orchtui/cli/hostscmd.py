"""`orchtui hosts`: the fleet's workers, their heartbeat, load, sessions and capacity."""

from __future__ import annotations

import click

from orchtui.cli.app import App, json_option, pass_app
from orchtui.cli.output import emit_json, table


@click.command("hosts")
@json_option
@pass_app
def hosts(app: App, as_json: bool) -> None:
    """Every worker (an engine on a host) registered in this database: live, stale (no
    heartbeat for [worker] stale_after seconds) or stopped."""
    from orchtui.services import fleet

    app.keep_engine()
    views = fleet.hosts(app.ctx)
    if as_json:
        emit_json([v.as_dict() for v in views])
        return
    table(
        [
            [
                v.name,
                v.state,
                f"{v.heartbeat_age:.0f}s ago",
                f"{v.sessions}/{v.capacity}",
                f"{v.load:.2f}",
                ",".join(v.agents) or "-",
                v.address,
                ",".join(v.peers) or "-",
                v.version,
            ]
            for v in views
        ],
        ["host", "state", "heartbeat", "sessions", "load", "agents", "address", "shares disk", "version"],
    )


@click.command("worker")
@pass_app
def worker(app: App) -> None:
    """Run this host's worker in the foreground: the engine for this host's tmux server
    and worktrees, in the fleet that shares [store] url (docs/scale-out.md). What a service
    manager starts on each host; the same as `orchtui engine run`."""
    import sys

    from orchtui.engine import daemon

    sys.exit(daemon.run_foreground(app.config))
