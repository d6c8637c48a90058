"""The fleet's workers: each engine registers itself and beats; one that stops beating
is stale to everyone after `[worker] stale_after`; a clean stop says goodbye. On SQLite
and on a real PostgreSQL server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from libtmux import Server

from helpers import Orch, wait_for
from orchtui.domain import SessionStatus
from orchtui.services.fleet import state_of
from orchtui.store.db import now
from orchtui.store.records import Records
from orchtui.store.tables import AgentSession, Worker


def _row(heartbeat_at: float, stopped_at: float | None = None) -> Worker:
    return Worker(
        name="alpha",
        address="alpha",
        pid=1,
        version="x",
        capacity=10,
        started_at=0.0,
        heartbeat_at=heartbeat_at,
        stopped_at=stopped_at,
    )


def test_live_stale_and_stopped() -> None:
    assert state_of(_row(100.0), at=150.0, stale_after=60) == "live"
    assert state_of(_row(100.0), at=161.0, stale_after=60) == "stale"
    assert state_of(_row(100.0, stopped_at=101.0), at=300.0, stale_after=60) == "stopped"
    assert state_of(_row(200.0, stopped_at=101.0), at=201.0, stale_after=60) == "live"  # started again


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_engine_beats_goes_stale_when_killed_and_says_goodbye_when_stopped(
    orch: Orch, backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "postgresql":
        orch.env["ORCHTUI_DB_URL"] = request.getfixturevalue("postgres_url")
    orch.home.mkdir(parents=True, exist_ok=True)
    (orch.home / "config.toml").write_text(
        '[worker]\nname = "alpha"\naddress = "alpha.lan"\nheartbeat = 0.5\nstale_after = 2\n'
    )

    def host() -> dict[str, object] | None:
        rows = orch.json("hosts")
        return rows[0] if rows else None

    orch.run("engine", "start")
    first = wait_for(lambda: (h := host()) and h["state"] == "live" and h, timeout=30)
    assert first["name"] == "alpha" and first["address"] == "alpha.lan" and "scripted" in first["agents"]
    beats = {wait_for(lambda: (h := host()) and h["heartbeat_age"] < 0.6 and h["pid"], timeout=30)}
    assert beats == {orch.engine_pid()}

    os.kill(int(first["pid"]), signal.SIGKILL)  # the host dies: no goodbye
    died = time.monotonic()
    wait_for(lambda: (h := host()) and h["state"] == "stale", timeout=30)
    assert time.monotonic() - died >= 1.0  # not before its heartbeats could have stopped

    orch.run("engine", "start")  # it comes back
    wait_for(lambda: (h := host()) and h["state"] == "live", timeout=30)
    orch.run("engine", "stop")
    gone = host()
    assert gone is not None and gone["state"] == "stopped"
    assert [h["name"] for h in orch.json("hosts")] == ["alpha"]  # one row per host, never a duplicate


def test_an_engine_follows_its_own_hosts_sessions_and_leaves_anothers_alone(orch: Orch) -> None:
    """Another host's session has its pane in that host's tmux: from here it looks gone,
    and an engine that followed it would call it lost. Only this host's are followed."""
    orch.home.mkdir(parents=True, exist_ok=True)
    (orch.home / "config.toml").write_text('[worker]\nname = "alpha"\n[engine]\nreconcile_interval = 0.5\n')
    sid = orch.new("mine")
    orch.wait_status(sid, "idle", 60)
    assert orch.show(sid)["host"] == "alpha"
    orch.run("engine", "stop")
    store = orch.store
    try:
        records = Records(store)
        mine = records.session(sid)
        for new_id, host, pane in (("beta01", "beta", "%901"), ("alpha1", "alpha", "%902")):
            at = now()
            records.add_session(
                AgentSession(
                    id=new_id,
                    project_id=mine.project_id,
                    agent="scripted",
                    task=f"t-{new_id}",
                    status=SessionStatus.IDLE,
                    host=host,
                    tmux_session=mine.tmux_session,
                    tmux_window="@900",
                    tmux_pane=pane,
                    created_at=at - 60,
                    updated_at=at - 60,
                    status_at=at - 60,
                )
            )
    finally:
        store.close()
    orch.run("engine", "start")
    wait_for(lambda: orch.status("alpha1") == "lost", timeout=30)  # this host's, with its pane gone
    time.sleep(2.0)  # four more reconciles
    assert orch.status("beta01") == "idle", "another host's session is that host's to judge"
    assert orch.status(sid) == "idle"


def test_a_takeover_of_another_hosts_session_goes_through_ssh_with_plain_quoted_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchtui.config import load_config
    from orchtui.errors import Refused
    from orchtui.services import fleet
    from orchtui.services.context import Context

    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        '[worker]\nname = "alpha"\nssh_for = { gpu = ["ssh", "-t", "-p", "2222"] }\n'
    )
    monkeypatch.setenv("ORCHTUI_HOME", str(home))
    ctx = Context(load_config(tmp_path))

    def register(name: str, socket: str, age: float = 0.0) -> None:
        row = _row(now() - age)
        row.name, row.address, row.socket = name, f"{name}.lan", socket
        ctx.workers.beat(row)

    register("gpu", "orchtui-1a2b")
    register("build", "orchtui-3c4d")
    assert fleet.attach_argv(ctx, "gpu", "@7") == [
        "ssh",
        "-t",
        "-p",
        "2222",
        "gpu.lan",
        "tmux -L orchtui-1a2b attach-session -t @7",
    ]
    assert fleet.attach_argv(ctx, "build", "@12")[:3] == ["ssh", "-t", "build.lan"]
    register("evil", "x; touch /tmp/pwned")
    with pytest.raises(Refused, match="not a plain name"):
        fleet.attach_argv(ctx, "evil", "@1")
    with pytest.raises(Refused, match="not a plain name"):
        fleet.attach_argv(ctx, "gpu", "@1; reboot")
    register("gone", "orchtui-5e6f", age=600)
    with pytest.raises(Refused, match="host gone is stale"):
        fleet.attach_argv(ctx, "gone", "@1")


def test_hosts_creating_at_the_same_instant_never_exceed_a_limit_the_fleet_shares(
    tmp_path: Path, server: Server, repo: Path, postgres_url: str
) -> None:
    """`per_project = 1` is the fleet's: four hosts asked for a session of one project at
    once. Each host's file lock is its own; the store's advisory lock makes the check and
    the insert one step across hosts, so exactly one gets the slot."""
    hosts = [Orch.at(tmp_path / name, repo, server) for name in ("alpha", "beta", "gamma", "delta")]
    for name, host in zip(("alpha", "beta", "gamma", "delta"), hosts, strict=True):
        host.home.mkdir()
        (host.home / "config.toml").write_text(f'[worker]\nname = "{name}"\n[limits]\nper_project = 1\n')
        host.env["ORCHTUI_DB_URL"] = postgres_url
    try:
        for host in hosts:
            host.run("engine", "start")
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "orchtui",
                    "session",
                    "new",
                    "--agent",
                    "scripted",
                    "--task",
                    f"race-{i}",
                ],
                cwd=repo,
                env=host.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i, host in enumerate(hosts)
        ]
        results = [(proc.wait(120), proc.stderr.read() if proc.stderr else "") for proc in procs]
        assert sorted(code for code, _ in results) == [0, 4, 4, 4], results
        assert all("limits.per_project=1" in err for code, err in results if code == 4), results
        live = [s for s in hosts[0].json("session", "list") if s["status"] not in ("lost", "killed")]
        assert len(live) == 1, live
    finally:
        for host in hosts:
            host.stop_engine()
