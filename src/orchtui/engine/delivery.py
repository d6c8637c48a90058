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
from typing import TYPE_CHECKING

from orchtui.domain import CommandState
from orchtui.engine.monitor import Monitor
from orchtui.errors import OrchtuiError
from orchtui.store.tables import Command

if TYPE_CHECKING:
    from orchtui.engine.engine import Engine

ECHO_TIMEOUT = 2.0


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


async def deliver(engine: Engine, monitor: Monitor, cmd: Command) -> None:
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
        before = monitor.generation
        bracketed = profile.submit.method == "bracketed_paste"
        # tmux calls run in a thread so the loop keeps reading every other session's output
        await asyncio.to_thread(ctx.tmux.paste, monitor.pane_id, text, bracketed)
        await wait_until(monitor, lambda: monitor.generation > before, ECHO_TIMEOUT)
        await asyncio.sleep(profile.submit.delay)
        for attempt in range(1, cfg.retries + 2):
            gen, status = monitor.generation, monitor.status
            engine.note_submit(cmd.id, monitor)
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
            ctx.records.event(
                "delivery.retry",
                monitor.session_id,
                f"no change after Enter (attempt {attempt})",
                severity="warning",
                command=cmd.id,
            )
        ctx.ledger.transition(
            cmd.id,
            CommandState.FAILED,
            f"not submitted: no change on screen after {cfg.retries + 1} Enter presses",
        )
    except OrchtuiError as exc:
        ctx.ledger.transition(cmd.id, CommandState.FAILED, f"delivery error: {exc}", error=str(exc))


async def deliver_answer(engine: Engine, monitor: Monitor, cmd: Command) -> None:
    """Answer a permission prompt with the profile's key; done once the agent moves on."""
    ctx = engine.ctx
    assert cmd.id is not None
    key = ctx.ledger.payload(cmd.id)
    if not key:
        ctx.ledger.transition(cmd.id, CommandState.FAILED, "payload missing")
        return
    ctx.ledger.transition(cmd.id, CommandState.ISSUED, "agent waiting; answering")
    try:
        for attempt in range(1, ctx.config.delivery.retries + 2):
            await asyncio.to_thread(ctx.tmux.send_keys, monitor.pane_id, *key.split())
            timeout = ctx.config.delivery.verify_timeout
            left = await wait_until(monitor, lambda: monitor.status != "waiting", timeout)
            if left:
                ctx.ledger.transition(
                    cmd.id, CommandState.DELIVERED, f"agent left its prompt (attempt {attempt})"
                )
                ctx.ledger.transition(cmd.id, CommandState.DONE, f"agent now {monitor.status}")
                return
        ctx.ledger.transition(cmd.id, CommandState.FAILED, "the agent kept waiting after the answer")
    except OrchtuiError as exc:
        ctx.ledger.transition(cmd.id, CommandState.FAILED, f"delivery error: {exc}", error=str(exc))
