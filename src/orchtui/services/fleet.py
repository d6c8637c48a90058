"""The fleet of workers (engines) sharing one database: each registers itself and beats
every `[worker] heartbeat` seconds; one silent for `[worker] stale_after` is stale."""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import dataclass
from typing import Literal

from orchtui import __version__
from orchtui.config import Config
from orchtui.services.context import Context
from orchtui.store.db import now
from orchtui.store.tables import Worker

HostState = Literal["live", "stale", "stopped"]


def worker_name(config: Config) -> str:
    """This host's name in the fleet: `[worker] name`, else the host name (cut to safe characters)."""
    if config.worker.name:
        return config.worker.name
    return re.sub(r"[^A-Za-z0-9._-]+", "-", socket.gethostname()).strip("-.")[:63] or "host"


def beat(ctx: Context, started_at: float, sessions: int) -> Worker:
    """Register or refresh this host's worker row."""
    config = ctx.config
    installed = sorted(p.name for p in ctx.profiles.all() if p.installed())
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = 0.0
    return ctx.workers.beat(
        Worker(
            name=worker_name(config),
            address=config.worker.address or socket.gethostname(),
            pid=os.getpid(),
            version=__version__,
            capacity=config.limits.max_sessions,
            agents=json.dumps(installed),
            sessions=sessions,
            load=round(load, 2),
            started_at=started_at,
            heartbeat_at=now(),
            stopped_at=None,
        )
    )


def goodbye(ctx: Context) -> None:
    ctx.workers.stopped(worker_name(ctx.config), now())


@dataclass(frozen=True)
class HostView:
    name: str
    address: str
    state: HostState
    heartbeat_age: float  # seconds since its last heartbeat
    sessions: int
    capacity: int
    load: float
    agents: list[str]
    version: str
    pid: int

    def as_dict(self) -> dict[str, object]:
        return self.__dict__.copy()


def state_of(row: Worker, at: float, stale_after: float) -> HostState:
    if row.stopped_at is not None and row.stopped_at >= row.heartbeat_at:
        return "stopped"
    return "stale" if at - row.heartbeat_at > stale_after else "live"


def hosts(ctx: Context) -> list[HostView]:
    at, stale_after = now(), ctx.config.worker.stale_after
    return [
        HostView(
            name=row.name,
            address=row.address,
            state=state_of(row, at, stale_after),
            heartbeat_age=round(at - row.heartbeat_at, 1),
            sessions=row.sessions,
            capacity=row.capacity,
            load=row.load,
            agents=list(json.loads(row.agents)),
            version=row.version,
            pid=row.pid,
        )
        for row in ctx.workers.all()
    ]
