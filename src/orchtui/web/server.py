"""`orchtui serve`: the dashboard in a browser (textual-serve runs `orchtui` for each
browser tab), the JSON API with its event streams, and the approvals page, in one aiohttp
application behind a token.

Every request carries the token, on 127.0.0.1 too: `Authorization: Bearer <token>` (for
scripts), or the cookie a browser gets by opening the printed address once (`?token=` is
swapped for an HttpOnly, SameSite=Strict cookie and taken out of the address). A request
that changes something with the cookie must also carry `X-Requested-With: orchtui`, which
a page on another site cannot send, and the answer never allows another origin."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shlex
import sys

from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from orchtui.services.context import Context
from orchtui.web import api
from orchtui.web.pages import APPROVALS_PAGE

COOKIE = "orchtui_token"
RESIZE_AGAIN = (1.0, 2.0, 4.0)  # seconds after a resize: said again while the dashboard starts
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def new_token() -> str:
    return secrets.token_urlsafe(24)


def _given(request: web.Request) -> tuple[str, str]:
    """The token a request carries and how: bearer, cookie, query or none."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :], "bearer"
    if COOKIE in request.cookies:
        return request.cookies[COOKIE], "cookie"
    if "token" in request.query:
        return request.query["token"], "query"
    return "", "none"


def _refused(status: int, why: str) -> web.Response:
    return web.json_response({"error": why}, status=status)


@web.middleware
async def token_gate(request: web.Request, handler: api.Handler) -> web.StreamResponse:
    token: str = request.app["orchtui_token"]
    given, how = _given(request)
    if not secrets.compare_digest(given.encode(), token.encode()):
        return _refused(
            401,
            "a token is required: open the address `orchtui serve` printed, or send "
            "Authorization: Bearer <token>",
        )
    changes = request.method not in ("GET", "HEAD", "OPTIONS")
    if how == "cookie" and changes and request.headers.get("X-Requested-With") != "orchtui":
        return _refused(403, "X-Requested-With: orchtui is required with the cookie")
    if how == "query" and request.method == "GET" and not request.path.startswith(("/api/", "/ws")):
        rest = {k: v for k, v in request.query.items() if k != "token"}
        target = request.rel_url.with_query(rest)
        found = web.HTTPFound(str(target))
        found.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/")
        return found
    response = await handler(request)
    if not response.prepared:  # (a stream has sent its headers already)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


async def approvals_page(request: web.Request) -> web.StreamResponse:
    return web.Response(text=APPROVALS_PAGE, content_type="text/html")


async def _size_again(app_service: AppService, width: int, height: int) -> None:
    for wait in RESIZE_AGAIN:
        await asyncio.sleep(wait)
        await app_service.set_terminal_size(width, height)


class WebServer(Server):
    """textual-serve's server with orchtui's API, approvals page and token gate added."""

    def __init__(self, ctx: Context, host: str, port: int, token: str, public_url: str | None) -> None:
        os.environ["ORCHTUI_NO_WARM"] = "1"  # each tab's dashboard runs in its own process, as served
        command = shlex.join([sys.executable, "-m", "orchtui"])
        super().__init__(command, host=host, port=port, title="orchtui", public_url=public_url)
        self.ctx = ctx
        self.token = token

    def initialize_logging(self) -> None:
        logging.basicConfig(level=logging.WARNING, format="orchtui serve: %(message)s")

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app["orchtui_ctx"] = self.ctx
        app["orchtui_token"] = self.token
        app.middlewares.append(token_gate)
        app[api.STREAMS] = set()
        app.on_shutdown.append(api.end_streams)
        app.add_routes([web.get("/approvals", approvals_page), *api.routes()])
        return app

    async def on_startup(self, app: web.Application) -> None:
        pass  # the CLI has said where and with which token

    async def _process_messages(self, websocket: web.WebSocketResponse, app_service: AppService) -> None:
        """textual-serve's loop, except that the browser's size is told again once the
        dashboard is up: a size sent while it still starts is lost, and it stayed at 80
        columns in a wide window."""
        later: list[asyncio.Task[None]] = []
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            kind, *rest = message.json()
            if kind == "stdin":
                await app_service.send_bytes(str(rest[0]).encode("utf-8"))
            elif kind == "resize":
                width, height = int(rest[0]["width"]), int(rest[0]["height"])
                await app_service.set_terminal_size(width, height)
                for task in later:
                    task.cancel()
                later = [asyncio.create_task(_size_again(app_service, width, height))]
            elif kind == "ping":
                await websocket.send_json(["pong", rest[0]])
            elif kind == "blur":
                await app_service.blur()
            elif kind == "focus":
                await app_service.focus()
        for task in later:
            task.cancel()

    def run(self) -> None:
        self.serve()


def printable_url(host: str, port: int, token: str, path: str = "/") -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{path}?token={token}"
