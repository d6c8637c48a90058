"""Delivering one ledger row to an agent: paste literally, submit, verify, retry.

The text goes through a tmux buffer (never a shell). After the paste is echoed and the
profile's delay has passed, Enter is sent; the row is `delivered` only once the agent's
screen changes or its status leaves the prompt. Otherwise Enter is retried, and after
the configured retries the row is `failed` ("pasted but never submitted" is caught).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from orchtui.domain import CommandState, SessionStatus
from orchtui.engine.monitor import Monitor
from orchtui.engine.port import Loop
from orchtui.errors import OrchtuiError
from orchtui.services.events import emit
from orchtui.store.tables import Command

ECHO_TIMEOUT = 2.0
FIRST_QUIET = 1.0  # seconds of silence before the first prompt an agent gets after (re)starting
FIRST_QUIET_LIMIT = 10.0  # ... waited for at most this long
TOOLS_LIMIT = 90.0  # a supervisor's first prompt waits at most this long for its orchtui tools


async def quiet(monitor: Monitor, seconds: float, limit: float) -> None:
    """Until the agent has printed nothing for `seconds` (at most `limit`). A TUI draws its
    input box before it is ready: Gemini CLI resuming a conversation shows it, then redraws
    the history, and a paste made in between is lost."""
    end = time.monotonic() + limit
    while (left := seconds - (time.time() - monitor.last_output)) > 0 and time.monotonic() < end:
        await asyncio.sleep(min(left, end - time.monotonic()))


async def tools_connected(engine: Loop, monitor: Monitor) -> None:
    """A supervisor's first prompt waits until the agent has listed orchtui's tools. Claude
    Code takes prompts while it is still connecting its MCP servers, and a turn begun before
    the server answered has no tools. The server's cold start takes seconds on a busy machine.
    The wait is bounded: after TOOLS_LIMIT the prompt goes anyway, with a warning."""
    files = monitor.files
    if files is None or files.mcp_config is None:
        return
    end = time.monotonic() + TOOLS_LIMIT
    while not files.mcp_ready.exists():
        if time.monotonic() > end:
            emit(
                engine.ctx,
                "supervisor.tools",
                f"orchtui's MCP tools not connected after {TOOLS_LIMIT:.0f} s; prompt sent without them",
                severity="warning",
                session_id=monitor.session_id,
            )
            return
        await asyncio.sleep(0.2)


async def wait_until(monitor: Monitor, condition: Callable[[], bool], timeout: float) -> bool:
    """Wait for `condition`, re-checked each time the engine reports a change on this
    session (no polling)."""
    end = time.monotonic() + timeout
    while not condition():
        left = end - time.monotonic()
        if left <= 0:
            return False
        event = monitor.change_event()
        event.clear()
        if condition():
            return True
        try:
            await asyncio.wait_for(event.wait(), left)
        except TimeoutError:
            return condition()
    return True


async def deliver(engine: Loop, monitor: Monitor, cmd: Command) -> None:
    ctx = engine.ctx
    assert cmd.id is not None
    cfg = ctx.config.delivery
    profile = monitor.profile
    text = ctx.ledger.payload(cmd.id)
    if text is None:
        ctx.ledger.transition(cmd.id, CommandState.FAILED, "payload missing")
        return
    ctx.ledger.transition(cmd.id, CommandState.ISSUED, f"session {monitor.status}; delivering")
    try:
        if not monitor.prompted:
            await tools_connected(engine, monitor)
            await quiet(monitor, FIRST_QUIET, FIRST_QUIET_LIMIT)
        monitor.prompted = True
        before = monitor.generation
        bracketed = profile.submit.method == "bracketed_paste"
        # tmux calls run in a thread so the loop keeps reading every other session's output
        await asyncio.to_thread(ctx.tmux.paste, monitor.pane_id, text, bracketed)
        await wait_until(monitor, lambda: monitor.generation > before, ECHO_TIMEOUT)
        await asyncio.sleep(profile.submit.delay)
        for attempt in range(1, cfg.retries + 2):
            gen, status = monitor.generation, monitor.status
            if attempt == 1:  # kept before the key goes: crash recovery must know it may have
                ctx.ledger.note_submit(cmd.id, monitor.offset)
            engine.turns.note_submit(cmd.id, monitor)
            await asyncio.to_thread(ctx.tmux.send_keys, monitor.pane_id, profile.submit.enter_key)

            def moved(gen: int = gen, status: str = status) -> bool:
                return monitor.generation > gen or monitor.status != status

            changed = await wait_until(monitor, moved, cfg.verify_timeout)
            if changed:
                ctx.ledger.transition(
                    cmd.id,
                    CommandState.DELIVERED,
                    f"verified: agent screen changed after Enter (attempt {attempt})",
                )
                return
            emit(
                ctx,
                "delivery.retry",
                f"no change after Enter (attempt {attempt})",
                severity="warning",
                session_id=monitor.session_id,
                command=cmd.id,
            )
        ctx.ledger.transition(
            cmd.id,
            CommandState.FAILED,
            f"not submitted: no change on screen after {cfg.retries + 1} Enter presses",
        )
    except OrchtuiError as exc:
        ctx.ledger.transition(cmd.id, CommandState.FAILED, f"delivery error: {exc}", error=str(exc))


async def deliver_answer(engine: Loop, monitor: Monitor, cmd: Command) -> None:
    """Answer a permission prompt with the profile's key; done once the agent moves on."""
    ctx = engine.ctx
    assert cmd.id is not None
    key = ctx.ledger.payload(cmd.id)
    if not key:
        ctx.ledger.transition(cmd.id, CommandState.FAILED, "payload missing")
        return
    ctx.ledger.transition(cmd.id, CommandState.ISSUED, "agent waiting; answering")
    monitor.rejected = key == monitor.profile.answers.reject  # a chosen stop is not an error
    try:
        for attempt in range(1, ctx.config.delivery.retries + 2):
            await asyncio.to_thread(ctx.tmux.send_keys, monitor.pane_id, *key.split())
            timeout = ctx.config.delivery.verify_timeout
            left = await wait_until(monitor, lambda: monitor.status != SessionStatus.WAITING, timeout)
            if left:
                ctx.ledger.transition(
                    cmd.id, CommandState.DELIVERED, f"agent left its prompt (attempt {attempt})"
                )
                ctx.ledger.transition(cmd.id, CommandState.DONE, f"agent now {monitor.status}")
                return
        ctx.ledger.transition(cmd.id, CommandState.FAILED, "the agent kept waiting after the answer")
    except OrchtuiError as exc:
        ctx.ledger.transition(cmd.id, CommandState.FAILED, f"delivery error: {exc}", error=str(exc))


async def recover_issued(engine: Loop, monitor: Monitor, cmd: Command, taken: bool) -> None:
    """A row that orchtui was delivering when it stopped, found with the agent at its
    prompt. An Enter already sent is still on its way through the terminal, so first
    give the agent time to take it. If it does not, the pasted text may sit in its input
    line, where the next Enter would glue it to the next prompt: the profile's
    `clear_input` keys empty the line and the row is failed as not submitted. A profile
    without them gets the row failed with what is known and the session held for the
    operator (the queue goes on after a takeover)."""
    ctx = engine.ctx
    assert cmd.id is not None
    base = monitor.markers_seen
    busy = (SessionStatus.WORKING, SessionStatus.WAITING)
    entered = cmd.submit_offset is not None  # else Enter was never pressed: nothing to wait for
    took = taken or (  # taken: its turn's marker or submit hook came while orchtui was down
        entered
        and await wait_until(
            monitor,
            lambda: monitor.status in busy or monitor.markers_seen > base,
            ctx.config.delivery.verify_timeout,
        )
    )
    if took:
        engine.turns.note_submit(cmd.id, monitor)
        engine.turns.marker_base[cmd.id] = base
        monitor.turn_seen = True
        ctx.ledger.transition(cmd.id, CommandState.DELIVERED, "adopted after restart: the agent took it")
        return
    keys = monitor.profile.clear_input
    try:
        if keys:
            await asyncio.to_thread(ctx.tmux.send_keys, monitor.pane_id, *keys.split())
            ctx.ledger.transition(
                cmd.id,
                CommandState.FAILED,
                (
                    "orchtui stopped before the agent took it"
                    if entered
                    else "orchtui stopped before pressing Enter"
                )
                + "; its input line was emptied, so nothing was submitted (not re-sent)",
                error="not submitted (orchtui stopped during delivery)",
            )
            return
        ctx.records.update_session(monitor.session_id, taken_over=True)
        ctx.ledger.transition(
            cmd.id,
            CommandState.FAILED,
            "orchtui stopped during delivery; the text may still sit unsubmitted in the agent's "
            "input line: the session is held until the operator takes it over",
            error="delivery interrupted; held for the operator",
        )
        emit(
            ctx,
            "delivery.held",
            "a prompt may sit unsubmitted in the input line; attach (orchtui session attach) to "
            "clear or submit it: queued prompts go on when you detach",
            severity="warning",
            session_id=monitor.session_id,
            command=cmd.id,
        )
    except OrchtuiError as exc:
        ctx.ledger.transition(cmd.id, CommandState.FAILED, f"recovery error: {exc}", error=str(exc))
