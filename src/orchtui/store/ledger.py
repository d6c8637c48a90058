"""The command ledger: one row per prompt/answer/takeover, every transition kept."""

from __future__ import annotations

from sqlalchemy import Table, bindparam, delete, insert, update
from sqlalchemy import select as core_select
from sqlmodel import SQLModel, col, func, select

from orchtui.controls import paste_safe
from orchtui.domain import COMMAND_TRANSITIONS, CommandKind, CommandState
from orchtui.errors import NotFound, OrchtuiError
from orchtui.redact import redact
from orchtui.store import fast
from orchtui.store.db import Store, now
from orchtui.store.tables import Command, CommandPayload, CommandTransition

_STAMP = {
    CommandState.QUEUED: "queued_at",
    CommandState.ISSUED: "issued_at",
    CommandState.DELIVERED: "delivered_at",
    CommandState.RUNNING: "running_at",
    CommandState.DONE: "done_at",
    CommandState.FAILED: "failed_at",
    CommandState.CANCELLED: "cancelled_at",
}


_COMMANDS: Table = SQLModel.metadata.tables["command"]
_TRANSITIONS: Table = SQLModel.metadata.tables["command_transition"]
_PAYLOADS: Table = SQLModel.metadata.tables["command_payload"]
# transition()'s statements, built once
_ROW = fast.Prepared(
    core_select(_COMMANDS.c.kind, _COMMANDS.c.state, _COMMANDS.c.attempts).where(
        _COMMANDS.c.id == bindparam("row_id")
    )
)
_ADD_TRANSITION = fast.Prepared(
    insert(_TRANSITIONS).values(
        {name: bindparam(f"v_{name}") for name in ("command_id", "state", "at", "cause")}
    )
)
_SESSIONS_WITH = core_select(_COMMANDS.c.session_id).where(_COMMANDS.c.state == bindparam("state")).distinct()
_NOTE_SUBMIT = fast.Prepared(
    update(_COMMANDS)
    .where(_COMMANDS.c.id == bindparam("row_id"), _COMMANDS.c.submit_offset.is_(None))
    .values(submit_offset=bindparam("offset"))
)
_DROP_PAYLOAD = fast.Prepared(delete(_PAYLOADS).where(_PAYLOADS.c.command_id == bindparam("row_id")))
_UPDATES = {
    frozenset(fields): fast.Prepared(
        update(_COMMANDS)
        .where(_COMMANDS.c.id == bindparam("row_id"))
        .values({name: bindparam(f"new_{name}") for name in fields})
    )
    for stamp in _STAMP.values()
    for fields in (
        {"state", stamp, *extra} for extra in ((), ("attempts",), ("error",), ("attempts", "error"))
    )
}


class IllegalTransition(OrchtuiError):
    pass


class Ledger:
    def __init__(self, store: Store) -> None:
        self.store = store

    def enqueue(
        self,
        session_id: str,
        text: str,
        kind: CommandKind = CommandKind.PROMPT,
        actor: str = "operator",
        cause: str = "queued by operator",
        urgent: bool = False,
    ) -> Command:
        """A new row waiting for delivery; the exact text is kept apart until delivered.
        A prompt's terminal control characters are removed first (orchtui/controls.py)."""
        if kind is CommandKind.PROMPT:
            text, removed = paste_safe(text)
            if removed:
                cause += f"; {removed} terminal control character(s) removed"
        return self._insert(
            session_id, kind, text, CommandState.QUEUED, actor, cause, payload=True, urgent=urgent
        )

    def record(
        self, session_id: str, kind: CommandKind, text: str, state: CommandState, actor: str, cause: str
    ) -> Command:
        """A row for something that already happened (e.g. a takeover starting)."""
        return self._insert(session_id, kind, text, state, actor, cause, payload=False)

    def _insert(
        self,
        session_id: str,
        kind: CommandKind,
        text: str,
        state: CommandState,
        actor: str,
        cause: str,
        payload: bool,
        urgent: bool = False,
    ) -> Command:
        at = now()
        with self.store.db() as db:
            cmd = Command(
                session_id=session_id,
                kind=kind,
                text=redact(text),
                state=state,
                actor=actor,
                urgent=urgent,
                queued_at=at,
            )
            setattr(cmd, _STAMP[state], at)
            db.add(cmd)
            db.flush()
            assert cmd.id is not None
            if payload:
                db.add(CommandPayload(command_id=cmd.id, text=self.store.seal.close(text)))
            db.add(CommandTransition(command_id=cmd.id, state=state, at=at, cause=cause))
            db.commit()
            return cmd

    def transition(self, command_id: int, state: CommandState, cause: str, error: str | None = None) -> None:
        """Move a row to `state`, keeping the transition and why. One short transaction of
        prepared Core statements: the engine makes several per prompt, and the ORM's unit
        of work cost ~2 ms each."""
        at = now()
        state = CommandState(state)  # a value outside the enum is refused before it is written
        with fast.transaction(self.store.sql) as conn:  # the driver's cursor (store/fast.py)
            found = conn.execute(_ROW, {"row_id": command_id}).fetchone()
            if found is None:
                raise NotFound(f"no ledger row {command_id}")
            kind, state_now, attempts = found
            current = CommandState(state_now)
            if state not in COMMAND_TRANSITIONS[current]:
                raise IllegalTransition(f"ledger row {command_id}: {current} -> {state} is not allowed")
            skips_running = current is not CommandState.RUNNING
            if state is CommandState.DONE and kind == CommandKind.PROMPT and skips_running:
                raise IllegalTransition(f"ledger row {command_id}: a prompt is done only after running")
            values: dict[str, object] = {"state": state, _STAMP[state]: at}
            if state is CommandState.ISSUED:
                values["attempts"] = attempts + 1
            if error:
                values["error"] = redact(error)
            conn.execute(
                _UPDATES[frozenset(values)],
                {"row_id": command_id, **{f"new_{k}": v for k, v in values.items()}},
            )
            conn.execute(
                _ADD_TRANSITION,
                {"v_command_id": command_id, "v_state": state, "v_at": at, "v_cause": redact(cause)},
            )
            if state.final or state is CommandState.DELIVERED:
                conn.execute(_DROP_PAYLOAD, {"row_id": command_id})

    def note_submit(self, command_id: int, offset: int) -> None:
        """Enter is about to be pressed for this row for the first time; `offset` is the
        agent's log size now. After a crash only output past it can be this row's turn."""
        with fast.transaction(self.store.sql) as conn:
            conn.execute(_NOTE_SUBMIT, {"row_id": command_id, "offset": offset})

    def payload(self, command_id: int) -> str | None:
        with self.store.db() as db:
            row = db.get(CommandPayload, command_id)
            return self.store.seal.open(row.text) if row else None

    def get(self, command_id: int) -> Command:
        with self.store.db() as db:
            cmd = db.get(Command, command_id)
            if cmd is None:
                raise NotFound(f"no ledger row {command_id}")
            return cmd

    def rows(self, session_id: str | None = None, limit: int | None = None) -> list[Command]:
        with self.store.db() as db:
            query = select(Command).order_by(col(Command.id))
            if session_id is not None:
                query = query.where(Command.session_id == session_id)
            rows = list(db.exec(query).all())
        return rows[-limit:] if limit else rows

    def open_rows(self, session_id: str) -> list[Command]:
        """Rows not yet final, oldest first."""
        finals = [s for s in CommandState if s.final]
        with self.store.db() as db:
            query = (
                select(Command)
                .where(Command.session_id == session_id)
                .where(col(Command.state).not_in(finals))
                .order_by(col(Command.id))
            )
            return list(db.exec(query).all())

    def queued_counts(self) -> dict[str, int]:
        """Queued rows per session (one query)."""
        with self.store.db() as db:
            query = select(Command.session_id, func.count()).where(Command.state == CommandState.QUEUED)
            return {sid: int(n) for sid, n in db.exec(query.group_by(Command.session_id)).all()}

    def sessions_with(self, state: CommandState) -> set[str]:
        """Sessions that have at least one row in `state` (one query for all sessions)."""
        with self.store.sql.connect() as conn:  # Core: the engine asks on every wake-up
            return set(conn.execute(_SESSIONS_WITH, {"state": state.value}).scalars())

    def transitions(self, command_id: int) -> list[CommandTransition]:
        with self.store.db() as db:
            query = (
                select(CommandTransition)
                .where(CommandTransition.command_id == command_id)
                .order_by(col(CommandTransition.id))
            )
            return list(db.exec(query).all())
