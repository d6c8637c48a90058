"""`orchtui serve`: the dashboard in a browser, the JSON API and the approvals page."""

from __future__ import annotations

import click

from orchtui.cli.app import App, pass_app


@click.command("serve")
@click.option("--host", default=None, help="Address to bind (default: [serve] host, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: [serve] port, 8766).")
@click.option(
    "--public-url",
    default=None,
    help="The address browsers use, when a TLS proxy is in front (e.g. https://orchtui.example).",
)
@pass_app
def serve(app: App, host: str | None, port: int | None, public_url: str | None) -> None:
    """Serve the dashboard at /, the approvals page at /approvals and the JSON API at /api,
    behind a token (printed once; [serve] token in the config keeps one)."""
    from orchtui.web.server import LOOPBACK, WebServer, new_token, printable_url

    cfg = app.config.serve
    host = host or cfg.host
    port = port or cfg.port
    token = cfg.token or new_token()
    public_url = public_url or cfg.public_url
    app.keep_engine()
    if host not in LOOPBACK and not (public_url or "").startswith("https://"):
        click.echo(
            f"orchtui: warning: serving on {host} without TLS: the token crosses the network in "
            "clear text; put a TLS proxy in front and pass --public-url https://…",
            err=True,
        )
    base = public_url.rstrip("/") if public_url else None
    click.echo(
        f"orchtui serve: dashboard  {base + '/?token=' + token if base else printable_url(host, port, token)}"
    )
    click.echo(
        "orchtui serve: approvals  "
        + (base + "/approvals?token=" + token if base else printable_url(host, port, token, "/approvals"))
    )
    click.echo(
        "orchtui serve: API        /api/sessions, /api/runs, /api/approvals, /api/stream (Bearer token)"
    )
    WebServer(app.ctx, host, port, token, public_url).run()
