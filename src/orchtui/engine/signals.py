"""Structured signals from agents: hook events, transcripts, usage and budgets.

Hooks drop lines into `events/hooks-<session>.jsonl` (runtime/hookdrop.py); the engine
hands each changed file here. A session's driver says what each event means. At the
end of a turn (a Stop hook, or a status change for agents without hooks) and on the
engine's slow reconcile, the agent's transcript is read from where the last read
stopped; new usage rows are priced and stored, and budgets are checked.
"""

from __future__ import annotations

import json
import logging

from orchtui.drivers import Driver, driver
from orchtui.engine.monitor import Monitor
from orchtui.engine.port import Loop
from orchtui.redact import redact
from orchtui.services.budget import Budgets
from orchtui.services.events import emit
from orchtui.services.session_files import session_files
from orchtui.store.tables import AgentSession, Usage
from orchtui.tail import complete_lines, read_from

log = logging.getLogger("orchtui.engine")


class Signals:
    def __init__(self, engine: Loop) -> None:
        self.engine = engine
        self.ctx = engine.ctx
        self.budgets = Budgets(engine.ctx)

    def driver_of(self, monitor: Monitor) -> Driver:
        return driver(monitor.profile.driver)

    # hooks ----------------------------------------------------------------
    def adopt(self, monitor: Monitor, row: AgentSession) -> None:
        """On (re)adoption: remember what earlier hook events said (conversation,
        transcript) without replaying their statuses; the screen says where it is now."""
        monitor.files = session_files(self.ctx, row)
        path = monitor.files.hook_file
        data = complete_lines(read_from(path, 0))
        monitor.hook_offset = len(data)
        for event in _events(data):
            signal = self.driver_of(monitor).on_hook(event)
            monitor.hooked = True
            monitor.transcript = signal.transcript or monitor.transcript
            if signal.event == "UserPromptSubmit":
                monitor.submitted_at = max(monitor.submitted_at, _time(event))
        self.collect(monitor)

    def on_hooks(self, monitor: Monitor) -> None:
        if monitor.files is None:
            return
        data = complete_lines(read_from(monitor.files.hook_file, monitor.hook_offset))
        monitor.hook_offset += len(data)
        drv = self.driver_of(monitor)
        for event in _events(data):
            signal = drv.on_hook(event)
            monitor.hooked = True
            if signal.transcript is not None:
                monitor.transcript = signal.transcript
            if signal.conversation_id:
                self.engine.note_conversation(monitor, signal.conversation_id)
            if signal.status == "error":
                monitor.last_error = redact(signal.detail)
            if signal.read_usage:
                self.collect(monitor)
            if signal.status is not None:
                self.engine.hook_status(
                    monitor, signal.status, f"hook {signal.event}: {redact(signal.detail)}"
                )

    # transcripts and usage ------------------------------------------------
    def collect(self, monitor: Monitor) -> list[Usage]:
        """Read the transcript's new lines; store and price new usage; check budgets."""
        files = monitor.files
        if files is None:
            return []
        drv = self.driver_of(monitor)
        path = drv.transcript(files, monitor.transcript, monitor.conversation_id)
        if path is None or not path.exists():
            return []
        if path != monitor.transcript:
            monitor.transcript, monitor.transcript_offset = path, 0
        read = drv.read(path, monitor.transcript_offset, files)
        monitor.transcript_offset = read.offset
        if read.conversation_id:
            self.engine.note_conversation(monitor, read.conversation_id)
        for note in read.notes:
            emit(self.ctx, "agent.note", note, session_id=monitor.session_id)
        if not read.records:
            return []
        row = self.ctx.records.session(monitor.session_id)
        stage = self.ctx.runs.get(row.run_id).stage if row.run_id else None
        prices = self.ctx.prices
        fresh = self.ctx.usage.add(
            Usage(
                session_id=row.id,
                key=rec.key,
                run_id=row.run_id,
                stage=stage,
                role=row.role,
                agent=row.agent,
                model=rec.model,
                at=rec.at,
                input_tokens=rec.input_tokens,
                output_tokens=rec.output_tokens,
                cache_read=rec.cache_read,
                cache_write=rec.cache_write,
                cost=prices.cost(
                    rec.model, rec.input_tokens, rec.output_tokens, rec.cache_read, rec.cache_write
                ),
                priced=prices.price(rec.model) is not None,
            )
            for rec in read.records
        )
        if fresh:
            log.info("%s: %d usage record(s), $%.4f", row.id, len(fresh), sum(u.cost for u in fresh))
            exhausted = self.budgets.check(row)
            if exhausted is not None and row.run_id:
                self.engine.budget_exhausted(row.run_id, exhausted.describe())
        return fresh


def _time(event: dict[str, object]) -> float:
    try:
        return float(str(event.get("t", 0)))
    except ValueError:
        return 0.0


def _events(data: bytes) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            out.append(event)
    return out
