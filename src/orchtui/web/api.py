"""The JSON API under /api (sessions, runs, approvals, events) and its server-sent event
streams: every event as it is recorded, and one session's screen while someone watches.

Reads and answers go through the same services as the CLI; an approval answered here is
recorded with the web identity (`web:<user>@<address>`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from orchtui.errors import NotFound, OrchtuiError, UsageError
from orchtui.services import run_control
from orchtui.services.as_json import (
    approval_json,
    command_json,
    event_json,
    run_json,
    session_detail_json,
    session_json,
)
from orchtui.services.context import Context
from orchtui.services.dashboard import approval_summary
from orchtui.services.session_output import read_output
from orchtui.services.sessions import SessionService, operator

EVENT_POLL = 0.2  # seconds between looks at the event log while a stream is open
SCREEN_POLL = 0.5  # seconds between looks at a watched session's screen
KEEPALIVE = 15.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _ctx(request: web.Request) -> Context:
    ctx: Context = request.app["orchtui_ctx"]
    return ctx


async def _run(fn: Callable[[], Any]) -> Any:
    """A service call (it blocks on the store, git or tmux) in a worker thread."""
    return await asyncio.to_thread(fn)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False))


def _guarded(handler: Handler) -> Handler:
    """An OrchtuiError as a one-line JSON error with its status (404 for what is not there)."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except NotFound as exc:
            return _json({"error": str(exc)}, 404)
        except OrchtuiError as exc:
            return _json({"error": str(exc)}, 409 if exc.exit_code == 4 else 400)

    return wrapped


def _number(request: web.Request, name: str, default: int) -> int:
    """A whole-number query value; anything else is the default."""
    given = request.query.get(name, "")
    return int(given) if given.isdigit() else default


def web_identity(request: web.Request) -> str:
    return f"web:{operator()}@{request.remote or 'unknown'}"


@_guarded
async def sessions(request: web.Request) -> web.StreamResponse:
    ctx = _ctx(request)
    every = request.query.get("all") == "1"

    def read() -> list[dict[str, Any]]:
        rows, worktrees = ctx.records.sessions(live_only=not every), ctx.records.worktrees()
        return [session_json(ctx.records, r, worktrees) for r in rows if r.archived_at is None]

    return _json(await _run(read))


@_guarded
async def session(request: web.Request) -> web.StreamResponse:
    ctx, sid = _ctx(request), request.match_info["id"]

    return _json(await _run(lambda: session_detail_json(ctx.records, ctx.ledger, ctx.records.session(sid))))


@_guarded
async def output(request: web.Request) -> web.StreamResponse:
    ctx, sid = _ctx(request), request.match_info["id"]
    lines = _number(request, "lines", 40)
    return _json(await _run(lambda: read_output(ctx, sid, lines)))


@_guarded
async def runs(request: web.Request) -> web.StreamResponse:
    ctx = _ctx(request)
    return _json(await _run(lambda: [run_json(ctx.runs, r) for r in ctx.runs.all()]))


@_guarded
async def run(request: web.Request) -> web.StreamResponse:
    ctx = _ctx(request)
    return _json(await _run(lambda: run_json(ctx.runs, ctx.runs.get(request.match_info["id"]))))


@_guarded
async def approvals(request: web.Request) -> web.StreamResponse:
    ctx = _ctx(request)
    pending_only = request.query.get("all") != "1"

    def read() -> list[dict[str, Any]]:
        return [
            approval_json(a) | {"summary": approval_summary(a.shown)}
            for a in ctx.runs.approvals(pending_only=pending_only)
        ]

    return _json(await _run(read))


@_guarded
async def answer(request: web.Request) -> web.StreamResponse:
    ctx = _ctx(request)
    raw = request.match_info["id"]
    if not raw.isdigit():
        raise NotFound(f"no approval {raw!r}")
    decision = request.match_info["decision"]
    body = await _body(request)
    reason = str(body.get("reason") or "").strip() or None
    who = web_identity(request)
    row = await _run(lambda: run_control.answer(ctx, int(raw), decision == "approve", who, reason))
    return _json(approval_json(row))


@_guarded
async def waiting(request: web.Request) -> web.StreamResponse:
    """Agents stopped at a permission prompt: what they ask, and the end of their screen."""
    ctx = _ctx(request)

    def read() -> list[dict[str, Any]]:
        rows = [r for r in ctx.records.sessions(live_only=True) if r.status == "waiting"]
        return [session_json(ctx.records, r) | {"screen": read_output(ctx, r.id, 12)["output"]} for r in rows]

    return _json(await _run(read))


@_guarded
async def answer_agent(request: web.Request) -> web.StreamResponse:
    """Approve or reject what an agent asks (its profile's key is sent)."""
    ctx, sid = _ctx(request), request.match_info["id"]
    body = await _body(request)
    decision = str(body.get("decision") or "")
    if decision not in ("approve", "reject"):
        return _json({"error": "decision: approve or reject"}, 400)
    reason = str(body.get("reason") or "").strip() or None
    who = web_identity(request)
    cmd = await _run(lambda: SessionService(ctx).answer(sid, decision == "approve", who, reason))
    return _json(command_json(ctx.ledger, cmd))


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        found = await request.json()
    except ValueError:
        raise UsageError("the body is not JSON") from None
    if not isinstance(found, dict):
        raise UsageError("the body is not a JSON object")
    return found


@_guarded
async def events(request: web.Request) -> web.StreamResponse:
    ctx = _ctx(request)
    after = _number(request, "after", 0)
    return _json(await _run(lambda: [event_json(e) for e in ctx.records.events_after(after)]))


STREAMS = "orchtui_streams"  # the open streams' tasks, ended at shutdown


async def end_streams(app: web.Application) -> None:
    """Streams never end by themselves: at shutdown they are ended, so stopping the
    server does not wait for its graceful timeout."""
    streams: set[asyncio.Task[Any]] = app[STREAMS]
    for task in list(streams):
        task.cancel()


async def _sse(request: web.Request) -> web.StreamResponse:
    task = asyncio.current_task()
    if task is not None:
        streams: set[asyncio.Task[Any]] = request.app[STREAMS]
        streams.add(task)
        task.add_done_callback(streams.discard)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    return response


async def _send(response: web.StreamResponse, kind: str, data: Any, event_id: int | None = None) -> None:
    head = f"id: {event_id}\n" if event_id is not None else ""
    await response.write(f"{head}event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode())


async def stream(request: web.Request) -> web.StreamResponse:
    """Every event as it is recorded (status changes, approvals asked and answered, …),
    from the one after `Last-Event-ID` (or `?after=`), else from now."""
    ctx = _ctx(request)
    given = request.headers.get("Last-Event-ID") or request.query.get("after") or ""
    after = int(given) if given.isdigit() else await _run(ctx.records.last_event_id)
    response = await _sse(request)
    quiet = 0.0
    while True:
        rows = await asyncio.to_thread(ctx.records.events_after, after)
        for row in rows:
            after = row.id or after
            await _send(response, "event", event_json(row), row.id)
        quiet = 0.0 if rows else quiet + EVENT_POLL
        if quiet >= KEEPALIVE:
            await response.write(b": keepalive\n\n")
            quiet = 0.0
        await asyncio.sleep(EVENT_POLL)


async def session_stream(request: web.Request) -> web.StreamResponse:
    """One session's screen (its last lines), sent whenever it changes, while watched."""
    ctx, sid = _ctx(request), request.match_info["id"]
    lines = _number(request, "lines", 40)
    try:
        first = await _run(lambda: read_output(ctx, sid, lines))
    except NotFound as exc:
        return _json({"error": str(exc)}, 404)
    response = await _sse(request)
    last: dict[str, Any] | None = None
    shown = first
    while True:
        if shown != last:
            await _send(response, "output", shown)
            last = shown
        await asyncio.sleep(SCREEN_POLL)
        shown = await _run(lambda: read_output(ctx, sid, lines))


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/sessions", sessions),
        web.get("/api/sessions/{id}", session),
        web.get("/api/sessions/{id}/output", output),
        web.get("/api/sessions/{id}/stream", session_stream),
        web.post("/api/sessions/{id}/answer", answer_agent),
        web.get("/api/waiting", waiting),
        web.get("/api/runs", runs),
        web.get("/api/runs/{id}", run),
        web.get("/api/approvals", approvals),
        web.post("/api/approvals/{id}/{decision:approve|reject}", answer),
        web.get("/api/events", events),
        web.get("/api/stream", stream),
    ]
