"""Projects, agent sessions, worktrees and the event log."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, literal_column, update
from sqlalchemy import select as core_select
from sqlmodel import SQLModel, col, select

from orchtui.domain import SessionStatus
from orchtui.errors import NotFound
from orchtui.redact import redact
from orchtui.store import fast
from orchtui.store.db import Store, now
from orchtui.store.tables import AgentSession, Event, Project, Worktree

ENDED_BY_ORCHTUI = (SessionStatus.KILLED, SessionStatus.LOST)
ENDED = [s.value for s in SessionStatus if not s.live]
_SESSIONS: Table = SQLModel.metadata.tables["agent_session"]
# the ended statuses written into the statement (our own words), not a list parameter
# that is rendered again at each of the engine's many runs
_LIVE_PANES = core_select(_SESSIONS.c.id, _SESSIONS.c.tmux_pane, _SESSIONS.c.host).where(
    _SESSIONS.c.status.not_in([literal_column(f"'{status}'") for status in ENDED])
)
_STATUS = fast.Prepared(core_select(_SESSIONS.c.status).where(_SESSIONS.c.id == bindparam("sid")))
_ADD_EVENT = insert(SQLModel.metadata.tables["event"])
_EVENT_FIELDS = ("at", "session_id", "kind", "severity", "message", "data")
_ADD_STATUS_EVENT = fast.Prepared(_ADD_EVENT.values({name: bindparam(f"v_{name}") for name in _EVENT_FIELDS}))
_SET_STATUS: dict[frozenset[str], fast.Prepared] = {}


def _named(values: dict[str, Any]) -> dict[str, Any]:
    """Values by their parameters' names (a parameter may not share its column's name)."""
    return {f"v_{name}": value for name, value in values.items()}


def _set_status(fields: frozenset[str]) -> fast.Prepared:
    """change_status's update of these columns, built once per set of columns."""
    found = _SET_STATUS.get(fields)
    if found is None:
        statement = (
            update(_SESSIONS)
            .where(_SESSIONS.c.id == bindparam("sid"))
            .values({name: bindparam(f"v_{name}") for name in sorted(fields)})
        )
        found = _SET_STATUS[fields] = fast.Prepared(statement)
    return found


class Records:
    def __init__(self, store: Store) -> None:
        self.store = store

    # projects -------------------------------------------------------------
    def project_for(self, path: str, name: str, tmux_session: str) -> Project:
        with self.store.db() as db:
            found = db.exec(select(Project).where(Project.path == path)).first()
            if found is not None:
                return found
            project = Project(path=path, name=name, tmux_session=tmux_session, created_at=now())
            db.add(project)
            db.commit()
            return project

    def find_project(self, path: str) -> Project | None:
        with self.store.db() as db:
            return db.exec(select(Project).where(Project.path == path)).first()

    def projects(self) -> list[Project]:
        with self.store.db() as db:
            return list(db.exec(select(Project).order_by(col(Project.id))).all())

    def project(self, project_id: int) -> Project:
        with self.store.db() as db:
            project = db.get(Project, project_id)
            if project is None:
                raise NotFound(f"no project {project_id}")
            return project

    # sessions -------------------------------------------------------------
    def add_session(self, row: AgentSession) -> AgentSession:
        with self.store.db() as db:
            db.add(row)
            db.commit()
            return row

    def session(self, session_id: str) -> AgentSession:
        with self.store.db() as db:
            row = db.get(AgentSession, session_id)
            if row is None:
                raise NotFound(f"no session {session_id!r}")
            return row

    def find_session(self, session_id: str) -> AgentSession | None:
        with self.store.db() as db:
            return db.get(AgentSession, session_id)

    def sessions(
        self, live_only: bool = False, project_id: int | None = None, ids: list[str] | None = None
    ) -> list[AgentSession]:
        with self.store.db() as db:
            query = select(AgentSession).order_by(col(AgentSession.created_at))
            if project_id is not None:
                query = query.where(AgentSession.project_id == project_id)
            if live_only:  # in the query: ended sessions pile up over weeks
                query = query.where(col(AgentSession.status).not_in(ENDED))
            if ids is not None:
                query = query.where(col(AgentSession.id).in_(ids))
            return list(db.exec(query).all())

    def live_panes(self) -> dict[str, tuple[str | None, str | None]]:
        """Each live session's pane and host, without loading whole rows: what the engine
        looks at on every wake-up (hundreds of sessions, dozens of wake-ups a second)."""
        with self.store.sql.connect() as conn:
            return {sid: (pane, host) for sid, pane, host in conn.execute(_LIVE_PANES)}

    def update_session(self, session_id: str, **fields: Any) -> AgentSession:
        with self.store.db() as db:
            row = db.get(AgentSession, session_id)
            if row is None:
                raise NotFound(f"no session {session_id!r}")
            at = now()
            if "status" in fields and fields["status"] != row.status:
                row.status_at = at
            for key, value in fields.items():
                setattr(row, key, value)
            row.updated_at = at
            db.add(row)
            db.commit()
            return row

    def lose_host(self, host: str, detail: str) -> list[AgentSession]:
        """Every live session of `host` becomes `lost` (its worker went silent), with its
        status event; the sessions this call changed. One conditional statement: of
        several workers that notice at once, each session is recorded by one."""
        live = [s.value for s in SessionStatus if s.live]
        at = now()
        with self.store.sql.begin() as conn:
            changed = conn.execute(
                update(_SESSIONS)
                .where(_SESSIONS.c.host == host, _SESSIONS.c.status.in_(live))
                .values(status="lost", status_detail=detail, status_at=at, ended_at=at, updated_at=at)
                .returning(_SESSIONS.c.id)
            ).scalars()
            ids = list(changed)
            for session_id in ids:
                conn.execute(
                    _ADD_EVENT,
                    {
                        "at": at,
                        "session_id": session_id,
                        "kind": "agent.lost",
                        "severity": "warning",
                        "message": detail,
                        "data": json.dumps({"host": host}),
                    },
                )
        return [self.session(i) for i in ids]

    def change_status(self, session_id: str, old: str, new: str, detail: str, **fields: Any) -> bool:
        """The session's new status and its event, in one transaction. False (nothing
        written) when the session was killed or lost meanwhile by someone else. Core
        statements: the engine writes one per status change, many a second in a burst."""
        at = now()
        new = SessionStatus(new)  # a value outside the enum is refused before it is written
        values = {"status": new, "status_detail": detail, "status_at": at, "updated_at": at, **fields}
        with fast.transaction(self.store.sql) as cur:
            found = cur.execute(_STATUS, {"sid": session_id}).fetchone()
            if found is None:
                raise NotFound(f"no session {session_id!r}")
            if found[0] in ENDED_BY_ORCHTUI and found[0] != old:
                return False  # killed or lost meanwhile (by another process): that stands
            cur.execute(_set_status(frozenset(values)), {"sid": session_id, **_named(values)})
            data = json.dumps({"old": old, "new": new, "detail": detail})
            event = {"at": at, "session_id": session_id, "kind": "status", "severity": "info"}
            cur.execute(_ADD_STATUS_EVENT, _named({**event, "message": f"{old} -> {new}", "data": data}))
            return True

    # worktrees ------------------------------------------------------------
    def add_worktree(self, row: Worktree) -> Worktree:
        with self.store.db() as db:
            db.add(row)
            db.commit()
            return row

    def worktree(self, worktree_id: int) -> Worktree:
        with self.store.db() as db:
            row = db.get(Worktree, worktree_id)
            if row is None:
                raise NotFound(f"no worktree {worktree_id}")
            return row

    def worktrees(self) -> dict[int, Worktree]:
        """Every worktree by id, in one query."""
        with self.store.db() as db:
            return {w.id: w for w in db.exec(select(Worktree)).all() if w.id is not None}

    def update_worktree(self, worktree_id: int, **fields: Any) -> Worktree:
        with self.store.db() as db:
            row = db.get(Worktree, worktree_id)
            if row is None:
                raise NotFound(f"no worktree {worktree_id}")
            for key, value in fields.items():
                setattr(row, key, value)
            db.add(row)
            db.commit()
            return row

    # events ---------------------------------------------------------------
    def add_event(
        self,
        kind: str,
        session_id: str | None = None,
        message: str = "",
        severity: str = "info",
        at: float | None = None,
        **data: Any,
    ) -> Event:
        """Write one event row. Everything else records events through
        orchtui.services.events.emit, which also hands them to the operator's hook."""
        row = Event(
            at=at or now(),
            session_id=session_id,
            kind=kind,
            severity=severity,
            message=redact(message),
            data=redact(json.dumps(data, default=str)),
        )
        with self.store.sql.begin() as conn:
            key = conn.execute(_ADD_EVENT, row.model_dump(exclude={"id"})).inserted_primary_key
        row.id = key[0] if key else None
        return row

    def recent_alerts(self, limit: int = 20) -> tuple[list[Event], int]:
        """The latest events of notice severity and up, and the newest event id."""
        with self.store.db() as db:
            alerts = db.exec(
                select(Event)
                .where(col(Event.severity).in_(["notice", "warning", "error", "critical"]))
                .order_by(col(Event.id).desc())
                .limit(limit)
            ).all()
            newest = db.exec(select(Event.id).order_by(col(Event.id).desc()).limit(1)).first()
        return list(reversed(alerts)), int(newest or 0)

    def events_after(self, event_id: int, limit: int = 500) -> list[Event]:
        """Events newer than `event_id`, oldest first (what a follower has not seen)."""
        with self.store.db() as db:
            query = select(Event).where(col(Event.id) > event_id).order_by(col(Event.id)).limit(limit)
            return list(db.exec(query).all())

    def last_event_id(self) -> int:
        with self.store.db() as db:
            return db.exec(select(func.max(Event.id))).first() or 0

    def events(self, session_id: str | None = None, kind: str | None = None) -> list[Event]:
        with self.store.db() as db:
            query = select(Event).order_by(col(Event.id))
            if session_id is not None:
                query = query.where(Event.session_id == session_id)
            if kind is not None:
                query = query.where(Event.kind == kind)
            return list(db.exec(query).all())
