"""`orchtui mcp`: the MCP server, over stdio (an agent starts it) or streamable HTTP."""

from __future__ import annotations

import os
from pathlib import Path

import click

from orchtui.cli.app import App, pass_app
from orchtui.errors import OrchtuiError, UsageError


@click.command("mcp")
@click.option("--http", "http", is_flag=True, help="Serve streamable HTTP instead of stdio.")
@click.option("--host", default="127.0.0.1", show_default=True, help="With --http: the address to bind.")
@click.option("--port", default=8765, show_default=True, help="With --http: the port.")
@click.option(
    "--token",
    envvar="ORCHTUI_MCP_TOKEN",
    default=None,
    help="With --http: the bearer token clients send (default: a new one, printed once).",
)
@click.option(
    "--repo",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The repository tools act on when they name no project (default: the current one).",
)
@pass_app
def mcp(app: App, http: bool, host: str, port: int, token: str | None, repo: Path | None) -> None:
    """Serve orchtui's tools (sessions, worktrees, merges, approvals, memory) to an MCP
    client. Governance holds: a client may ask for an approval, never give one."""
    from orchtui.mcp.crew import Crew
    from orchtui.mcp.server import TokenGate, build_server, new_token
    from orchtui.services.repos import here, repo_root
    from orchtui.services.supervision import READY_ENV

    try:
        root: Path | None = repo_root(repo) if repo else here()
    except OrchtuiError:
        if repo is not None:
            raise
        root = None
    ready = os.environ.get(READY_ENV)  # set for a supervisor's own server (services/supervision.py)
    server = build_server(Crew(app.ctx, root), Path(ready) if ready else None)
    if not http:
        server.run("stdio")
        return
    if token is not None and len(token) < 16:
        raise UsageError("--token: at least 16 characters")
    token = token or new_token()
    import uvicorn

    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"orchtui: warning: serving on {host} without TLS; put a TLS proxy in front", err=True)
    click.echo(f"orchtui mcp: http://{host}:{port}/mcp  token {token}", err=True)
    app_asgi = TokenGate(server.streamable_http_app(host=host), token)
    uvicorn.run(app_asgi, host=host, port=port, log_level="warning")
