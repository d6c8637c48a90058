"""The fleet of workers (engines) sharing one database: each registers itself and beats
every `[worker] heartbeat` seconds; one silent for `[worker] stale_after` is stale."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from orchtui import __version__
from orchtui.domain import CommandKind, CommandState
from orchtui.errors import Refused
from orchtui.services.context import Context
from orchtui.services.events import emit
from orchtui.store.db import now
from orchtui.store.tables import Worker

HostState = Literal["live", "stale", "stopped"]


MARKS = ".orchtui-workers"  # in a worktree root: one file per worker that makes worktrees there


def _mark(root: Path, name: str) -> Path:
    return root / MARKS / name


def _signature(pid: int, started_at: float) -> str:
    return f"{pid} {started_at!r}"


def _peers(ctx: Context) -> list[str]:
    """The other workers whose worktree root this host sees with their own mark in it (the
    one they wrote at their start): one disk, mounted where they have it (NFS, or hosts on
    one machine). A run's stage goes to another host only when they are peers both ways."""
    found = []
    for row in ctx.workers.all():
        if row.name == ctx.config.host or not row.worktree_root:
            continue
        try:
            seen = _mark(Path(row.worktree_root), row.name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if seen == _signature(row.pid, row.started_at):
            found.append(row.name)
    return found


def beat(ctx: Context, started_at: float, sessions: int) -> Worker:
    """Register or refresh this host's worker row (and its mark in its worktree root)."""
    config = ctx.config
    installed = sorted(p.name for p in ctx.profiles.all() if p.installed())
    mark, signature = _mark(config.worktree_root, config.host), _signature(os.getpid(), started_at)
    try:
        if not mark.is_file() or mark.read_text(encoding="utf-8") != signature:
            mark.parent.mkdir(parents=True, exist_ok=True)
            mark.write_text(signature, encoding="utf-8")
    except OSError:
        pass  # no shared disk is claimed: its stages stay on their run's host
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = 0.0
    return ctx.workers.beat(
        Worker(
            name=config.host,
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
            socket=config.socket_name,
            worktree_root=str(config.worktree_root),
            peers=json.dumps(_peers(ctx)),
        )
    )


def goodbye(ctx: Context) -> None:
    ctx.workers.stopped(ctx.config.host, now())


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
    socket: str  # its tmux server's socket name
    worktree_root: str
    peers: list[str]  # the hosts that share its disk (`_peers`)

    def as_dict(self) -> dict[str, object]:
        return self.__dict__.copy()


def state_of(row: Worker, at: float, stale_after: float) -> HostState:
    if row.stopped_at is not None and row.stopped_at >= row.heartbeat_at:
        return "stopped"
    return "stale" if at - row.heartbeat_at > stale_after else "live"


def hosts(ctx: Context, at: float | None = None) -> list[HostView]:
    """Every registered worker as of `at` (now)."""
    at, stale_after = (now() if at is None else at), ctx.config.worker.stale_after
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
            socket=row.socket,
            worktree_root=row.worktree_root,
            peers=list(json.loads(row.peers)),
        )
        for row in ctx.workers.all()
    ]


@dataclass(frozen=True)
class Rescue:
    """What one worker did about a host gone silent."""

    host: str
    silent_for: float
    sessions: list[str]
    runs: list[str]


def lost_detail(host: str, silent_for: float) -> str:
    return f"host {host} silent for {silent_for:.0f} s (no heartbeat)"


def rescue(ctx: Context) -> list[Rescue]:
    """For each stale host: its live sessions become `lost` with the reason, their open
    ledger rows are closed (a queued prompt cancelled, one under way failed: its agent is
    out of reach), and its unfinished runs become this host's, whose worker then retries
    their stages under each stage's policy. Conditional updates make each of these happen
    once, however many workers notice at the same moment."""
    done = []
    for view in hosts(ctx):
        if view.state != "stale" or view.name == ctx.config.host:
            continue
        detail = lost_detail(view.name, view.heartbeat_age)
        lost = ctx.records.lose_host(view.name, detail)
        for row in lost:
            for cmd in ctx.ledger.open_rows(row.id):
                if cmd.id is None or cmd.kind == CommandKind.TAKEOVER:
                    continue
                final = CommandState.CANCELLED if cmd.state == CommandState.QUEUED else CommandState.FAILED
                ctx.ledger.transition(cmd.id, final, f"session lost: {detail}")
        runs = ctx.runs.take_over(view.name, ctx.config.host)
        if lost or runs:
            emit(
                ctx,
                "host.lost",
                f"{detail}: {len(lost)} session(s) lost, {len(runs)} run(s) taken over by {ctx.config.host}",
                severity="error",
                host=view.name,
                sessions=[r.id for r in lost],
                runs=runs,
            )
            done.append(Rescue(view.name, view.heartbeat_age, [r.id for r in lost], runs))
    if done:
        ctx.wake_engine("rescued " + ", ".join(r.host for r in done), host=ctx.config.host)
    return done


SOCKET = re.compile(r"^[A-Za-z0-9._/-]{1,200}$")
WINDOW = re.compile(r"^@[0-9]{1,9}$")


def attach_argv(ctx: Context, host: str, window_id: str) -> list[str]:
    """The command that attaches this terminal to a window of another host's tmux server:
    `[worker] ssh` (or `ssh_for.<host>`), the host's address, and `tmux -L SOCKET
    attach-session -t WINDOW`, each part quoted for the remote shell, since ssh hands it
    one. Refused when the host is not live or what it recorded is not a socket name."""
    view = {v.name: v for v in hosts(ctx)}.get(host)
    if view is None or view.state != "live":
        raise Refused(
            f"host {host} is {view.state if view else 'unknown'}: its sessions cannot be taken over now"
        )
    if not SOCKET.match(view.socket) or not WINDOW.match(window_id):
        raise Refused(f"host {host}: tmux socket {view.socket!r} or window {window_id!r} is not a plain name")
    ssh = ctx.config.worker.ssh_for.get(host, ctx.config.worker.ssh)
    remote = ["tmux", "-L", view.socket, "attach-session", "-t", window_id]
    return [*ssh, view.address, shlex.join(remote)]


def place(ctx: Context, agent: str) -> str | None:
    """Where a new session of `agent` goes when the operator names no host: here while this
    host has the agent and room (`[limits] max_sessions`, `per_host`); else the live host
    with that agent installed and the most room. None: here (a refusal, if any, says why)."""
    me, limits = ctx.config.host, ctx.config.limits
    live = ctx.records.sessions(live_only=True)

    def used(host: str) -> int:
        return sum(1 for r in live if r.host == host or (r.host is None and host == me))

    def room(host: str, capacity: int) -> int:
        return min(capacity, limits.per_host.get(host, capacity)) - used(host)

    if ctx.profiles.get(agent).installed() and room(me, limits.max_sessions) > 0:
        return None
    others = [
        (room(v.name, v.capacity), v.name)
        for v in hosts(ctx)
        if v.state == "live" and v.name != me and agent in v.agents
    ]
    best = max(others, default=(0, ""))
    return best[1] if best[0] > 0 else None


def stage_hosts(ctx: Context) -> list[HostView]:
    """The live hosts besides this one where a stage of a run this host owns may go: those
    that share a disk with it both ways (their worktrees are gated from here; they make
    theirs from this host's branches), the least busy first."""
    views = hosts(ctx)
    me = next((v for v in views if v.name == ctx.config.host), None)
    if me is None:
        return []
    return sorted(
        (
            v
            for v in views
            if v.state == "live" and v.name != me.name and v.name in me.peers and me.name in v.peers
        ),
        key=lambda v: (v.sessions - v.capacity, v.name),
    )
