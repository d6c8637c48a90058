"""`orchtui report`: cost, time and utilisation, from the usage table and the event log.

Cost is summed per session, stage, role, run, model and day. Time per session is read
from its status changes: busy (working), waiting (for the operator), idle (at its
prompt, or in error); utilisation is busy over all three. Per run, each stage's wall
time runs from the first event naming it to its `stage.completed` (or now); the stage
that took longest is the run's bottleneck.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from orchtui.services.context import Context
from orchtui.store.db import now
from orchtui.store.tables import AgentSession, Usage

BUSY, WAITING, IDLE = "busy", "waiting", "idle"
BUCKET = {"working": BUSY, "waiting": WAITING, "idle": IDLE, "error": IDLE}


@dataclass
class Spend:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read: int = 0
    cache_write: int = 0
    cost: float = 0.0
    calls: int = 0

    def add(self, row: Usage) -> None:
        self.input_tokens += row.input_tokens
        self.output_tokens += row.output_tokens
        self.cache_read += row.cache_read
        self.cache_write += row.cache_write
        self.cost += row.cost
        self.calls += 1


@dataclass
class Times:
    busy: float = 0.0
    waiting: float = 0.0
    idle: float = 0.0

    def add(self, bucket: str, seconds: float) -> None:
        setattr(self, bucket, getattr(self, bucket) + seconds)

    def merge(self, other: Times) -> None:
        self.busy += other.busy
        self.waiting += other.waiting
        self.idle += other.idle

    @property
    def utilisation(self) -> float:
        total = self.busy + self.waiting + self.idle
        return self.busy / total if total else 0.0


@dataclass
class Report:
    total: Spend = field(default_factory=Spend)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    stages: dict[str, Spend] = field(default_factory=dict)
    roles: dict[str, Spend] = field(default_factory=dict)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: dict[str, Spend] = field(default_factory=dict)
    days: dict[str, Spend] = field(default_factory=dict)
    role_times: dict[str, Times] = field(default_factory=dict)
    unpriced: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        def spend(s: Spend) -> dict[str, Any]:
            return {**asdict(s), "cost": round(s.cost, 6)}

        return {
            "total": spend(self.total),
            "sessions": self.sessions,
            "stages": {k: spend(v) for k, v in self.stages.items()},
            "roles": {
                k: {**spend(v), **_times_json(self.role_times.get(k, Times()))} for k, v in self.roles.items()
            },
            "runs": self.runs,
            "models": {k: spend(v) for k, v in self.models.items()},
            "days": {k: spend(v) for k, v in self.days.items()},
            "unpriced_models": self.unpriced,
        }


def _times_json(times: Times) -> dict[str, Any]:
    return {
        "busy_s": round(times.busy, 1),
        "waiting_s": round(times.waiting, 1),
        "idle_s": round(times.idle, 1),
        "utilisation": round(times.utilisation, 3),
    }


def session_times(ctx: Context, row: AgentSession, at: float) -> Times:
    """Seconds spent in each bucket, from the session's status events."""
    times = Times()
    current, since = "", row.created_at
    for event in ctx.records.events(session_id=row.id, kind="status"):
        data = json.loads(event.data or "{}")
        if current in BUCKET:
            times.add(BUCKET[current], event.at - since)
        current, since = str(data.get("new", "")), event.at
    end = row.ended_at or at
    if current in BUCKET and end > since:
        times.add(BUCKET[current], end - since)
    return times


def stage_times(ctx: Context, run_id: str, at: float) -> dict[str, float]:
    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    for event in ctx.records.events():
        data = json.loads(event.data or "{}")
        if data.get("run") != run_id or not data.get("stage"):
            continue
        stage = str(data["stage"])
        starts.setdefault(stage, event.at)
        if event.kind == "stage.completed":
            ends[stage] = event.at
    return {stage: (ends.get(stage) or at) - start for stage, start in starts.items()}


def build_report(ctx: Context, since: float | None = None) -> Report:
    at = now()
    report = Report()
    rows = ctx.usage.rows(since=since)
    sessions = {s.id: s for s in ctx.records.sessions()}
    per_session: dict[str, Spend] = defaultdict(Spend)
    per_run: dict[str, Spend] = defaultdict(Spend)
    for row in rows:
        report.total.add(row)
        per_session[row.session_id].add(row)
        report.stages.setdefault(row.stage or "-", Spend()).add(row)
        report.roles.setdefault(row.role or "-", Spend()).add(row)
        report.models.setdefault(row.model, Spend()).add(row)
        day = datetime.fromtimestamp(row.at).strftime("%Y-%m-%d")
        report.days.setdefault(day, Spend()).add(row)
        if row.run_id:
            per_run[row.run_id].add(row)
        if not row.priced and row.model not in report.unpriced:
            report.unpriced.append(row.model)
    for sid, session in sessions.items():
        if since is not None and (session.ended_at or at) < since:
            continue
        times = session_times(ctx, session, at)
        report.role_times.setdefault(session.role or "-", Times()).merge(times)
        report.roles.setdefault(session.role or "-", Spend())
        spend = per_session.get(sid, Spend())
        report.sessions[sid] = {
            "agent": session.agent,
            "task": session.task,
            "role": session.role,
            "run": session.run_id,
            "status": session.status,
            **asdict(spend),
            "cost": round(spend.cost, 6),
            **_times_json(times),
        }
    for run in ctx.runs.all():
        stages = stage_times(ctx, run.id, at)
        bottleneck = max(stages, key=lambda s: stages[s]) if stages else None
        spend = per_run.get(run.id, Spend())
        report.runs[run.id] = {
            "task": run.task,
            "state": run.state,
            "cost": round(spend.cost, 6),
            "stage_seconds": {k: round(v, 1) for k, v in stages.items()},
            "bottleneck": bottleneck,
            "races": [
                {
                    "stage": e.stage,
                    "attempt": e.attempt,
                    "entry": e.number,
                    "agent": e.agent,
                    "state": e.state,
                    "result": e.result,
                    "score": e.score,
                    "cost": round(per_session.get(e.session_id or "", Spend()).cost, 6),
                    "seconds": round((e.finished_at or at) - e.started_at, 1),
                }
                for e in ctx.races.entries(run.id)
            ],
        }
    return report
