"""A prompt's turn, from its Enter to its end, and what the ledger may say about it.

`delivered` is the delivery's (engine/delivery.py). From there a row becomes `running`
only on evidence that this turn started: a busy status since the Enter (a hook, or the
screen), the completion marker, or output only a turn prints (the profile's
`turn_output`). It becomes `done` only after `running`, when the agent is back at its
prompt or printed its marker, and `failed` when the turn ends in an error or never
starts. Real agents redraw an empty, idle-looking input line for a while after Enter,
so "at its prompt" right after a submit is no evidence of anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from orchtui.domain import CommandKind, CommandState, SessionStatus
from orchtui.engine.monitor import Monitor
from orchtui.services.context import Context
from orchtui.services.events import emit
from orchtui.store.db import now
from orchtui.store.tables import Command

ACTIVE = (CommandState.ISSUED, CommandState.DELIVERED, CommandState.RUNNING)
BUSY = (SessionStatus.WORKING, SessionStatus.WAITING)
COUNTDOWN = re.compile(r"\d+(\.\d+)?\s*(s|ms|seconds?)\b")


class Turns:
    def __init__(self, ctx: Context, poke: Callable[[str], None]) -> None:
        self.ctx = ctx
        self.poke = poke  # a row became final: the run that sent it may move on
        self.marker_base: dict[int, int] = {}  # markers seen before each row's Enter
        self.submit_seq: dict[int, int] = {}  # the status sequence number at each row's Enter
        self.submit_error: dict[int, str | None] = {}  # the error line on screen at each row's Enter

    def note_submit(self, command_id: int, monitor: Monitor) -> None:
        """Enter is about to be pressed for this row: what happens from now on is its turn."""
        self.marker_base[command_id] = monitor.markers_seen
        self.submit_seq[command_id] = monitor.status_seq
        self.submit_error[command_id] = monitor.screen_error()
        monitor.turn_seen = False
        monitor.rejected = False
        monitor.reported_error = False

    def active(self, session_id: str, rows: list[Command] | None = None) -> list[Command]:
        """The session's prompts in flight (of its open `rows`, when just read)."""
        return [
            cmd
            for cmd in (self.ctx.ledger.open_rows(session_id) if rows is None else rows)
            if cmd.state in ACTIVE and cmd.kind == CommandKind.PROMPT and cmd.id is not None
        ]

    def advance(self, monitor: Monitor, rows: list[Command] | None = None) -> bool:
        """Move the session's in-flight prompts along as the agent's state changes (a row
        being delivered is the delivery's own). Whether any was in flight (and may have moved)."""
        moving = [c for c in self.active(monitor.session_id, rows) if c.state != CommandState.ISSUED]
        for cmd in moving:
            self._advance(monitor, cmd)
        return bool(moving)

    def _advance(self, monitor: Monitor, cmd: Command) -> None:
        """delivered → running only on evidence that the turn started (a busy status from
        a hook or the screen, or a completion marker); running → done when the agent is
        back at its prompt or printed its marker; failed when the turn ends in an error."""
        assert cmd.id is not None
        status = monitor.status
        base = self.marker_base.get(cmd.id, monitor.markers_seen)
        marker = monitor.markers_seen > base
        if cmd.state == CommandState.DELIVERED:
            if status in BUSY or monitor.turn_seen or marker:
                why = (
                    f"agent {status}"
                    if status in BUSY
                    else "completion marker"
                    if marker
                    else "the agent was busy, or printed turn output, since the Enter"
                )
                self.ctx.ledger.transition(cmd.id, CommandState.RUNNING, f"turn started: {why}")
                cmd.state = CommandState.RUNNING
            elif not self._new_error(monitor, cmd.id):
                return  # submitted; the turn has not started yet
        if marker:  # the STOP token: done, whatever the screen shows
            self._finish(monitor, cmd, CommandState.DONE, "completion marker seen")
        elif status == SessionStatus.IDLE:
            why = "the operator rejected a permission" if monitor.rejected else "agent back at its prompt"
            self._finish(monitor, cmd, CommandState.DONE, why)
        elif status == SessionStatus.ERROR:
            self._finish(
                monitor,
                cmd,
                CommandState.FAILED,
                f"the turn failed: {monitor.screen_error() or monitor.last_error or 'error'}",
            )

    def _new_error(self, monitor: Monitor, command_id: int) -> bool:
        """An error status since the Enter that shows a new error line. An agent that
        redraws (a slash-command popup closing, its exit screen) can show the error of the
        turn before again: that one is old."""
        if monitor.status != SessionStatus.ERROR:
            return False
        if monitor.status_seq <= self.submit_seq.get(command_id, 0):
            return False
        before = self.submit_error.get(command_id)
        return before is None or monitor.screen_error() != before

    def _forget(self, command_id: int) -> None:
        """A final row's turn facts are no longer needed."""
        self.marker_base.pop(command_id, None)
        self.submit_seq.pop(command_id, None)
        self.submit_error.pop(command_id, None)

    def _finish(self, monitor: Monitor, cmd: Command, state: CommandState, cause: str) -> None:
        assert cmd.id is not None
        error = cause if state is CommandState.FAILED else None
        self.ctx.ledger.transition(cmd.id, state, cause, error=error)
        self._forget(cmd.id)
        self.poke(monitor.session_id)

    def check_started(self, monitor: Monitor) -> None:
        """A delivered prompt whose turn never started (no hook, no busy screen, no
        marker) within delivery.turn_timeout is failed, with what was seen."""
        if monitor.turn_seen or monitor.status in BUSY:
            return
        limit = self.ctx.config.delivery.turn_timeout
        for cmd in self.active(monitor.session_id):
            if cmd.state == CommandState.DELIVERED and now() - (cmd.delivered_at or now()) > limit:
                assert cmd.id is not None
                self.ctx.ledger.transition(
                    cmd.id,
                    CommandState.FAILED,
                    f"delivered, but no turn started within {limit:.0f}s "
                    f"(agent {monitor.status}; no hook, busy screen or completion marker)",
                    error="the agent never started a turn",
                )
                self._forget(cmd.id)
                self.poke(monitor.session_id)

    def note_retrying(self, monitor: Monitor) -> None:
        """An agent retrying an API error stays `working`, with the retry as its detail;
        past events.retry_warn_after it is escalated once as agent.retrying."""
        line = monitor.retrying() if monitor.status == SessionStatus.WORKING else None
        if line is None:
            monitor.retry_since, monitor.retry_line, monitor.retry_reported = None, "", False
            return
        if monitor.retry_since is None:
            monitor.retry_since = now()
        if COUNTDOWN.sub("", line) != COUNTDOWN.sub("", monitor.retry_line):
            monitor.retry_line = line
            self.ctx.records.update_session(monitor.session_id, status_detail=f"retrying: {line}")
        waited = now() - monitor.retry_since
        if not monitor.retry_reported and waited >= self.ctx.config.events.retry_warn_after:
            monitor.retry_reported = True
            emit(
                self.ctx,
                "agent.retrying",
                f"retrying an API error for {waited:.0f}s: {line}",
                severity="warning",
                session_id=monitor.session_id,
            )

    def check_stuck(self, monitor: Monitor) -> bool:
        """Working, yet silent for too long: say so once (until it prints again). True
        when it just said so."""
        quiet = now() - monitor.last_output
        stuck = monitor.status == SessionStatus.WORKING and quiet > self.ctx.config.events.stuck_after
        if stuck and not monitor.stuck_reported:
            monitor.stuck_reported = True
            emit(
                self.ctx,
                "agent.stuck",
                f"no output for {quiet:.0f}s while working",
                severity="warning",
                session_id=monitor.session_id,
            )
            return True
        return False
