"""Fleet benchmark: W workers (engines, each with its own ORCHTUI_HOME and tmux server)
sharing one real PostgreSQL server on this machine, N scripted sessions each.

Reports each worker's idle CPU (% of one core), the output→status latency (p50/p95, from
the moment an agent records a state change to its worker's status event) over a round of
staggered turns on every session, the dashboard's refresh cost (one full snapshot of the
fleet's sessions, as the dashboard takes it: median and p95 of 20), and the store's write
rate during that round: rows written per second, and transactions committed per second
(reads made inside a transaction count there too).
Everything is real: tmux, git worktrees, PostgreSQL, the engines.

    .venv/bin/python bench/fleet.py --workers 5 --sessions 100
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))  # the tests' PostgreSQL server (tests/postgres.py)
from sessions import latencies, wait_done  # noqa: E402
from world import cpu_percent, make_repo, pct, wait_all  # noqa: E402

from orchtui.config import load_config  # noqa: E402
from orchtui.services import engine_process  # noqa: E402
from orchtui.services.context import Context  # noqa: E402
from orchtui.services.dashboard import DashboardSource  # noqa: E402
from orchtui.services.sessions import SessionService  # noqa: E402
from postgres import running_postgres  # noqa: E402

WORKER_ENV = ("ORCHTUI_HOME", "ORCHTUI_TMUX_SOCKET", "ORCHTUI_WORKER__NAME")


def writes(url: str) -> tuple[int, int]:
    """PostgreSQL's committed transactions and rows written so far, in this database."""
    import psycopg

    from orchtui.store.wakeups import conninfo

    with psycopg.connect(conninfo(url)) as conn:
        row = conn.execute(
            "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted FROM pg_stat_database "
            "WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def start_worker(root: Path, repo: Path, index: int, url: str, n: int) -> Context:
    name = f"w{index}"
    os.environ.update(
        {
            "ORCHTUI_HOME": str(root / name),
            "ORCHTUI_TMUX_SOCKET": f"orchtui-fleet-{os.getpid()}-{name}",
            "ORCHTUI_WORKER__NAME": name,
        }
    )
    config = load_config(repo)
    engine_process.ensure_running(config, cwd=repo)
    return Context(config)


def run(workers: int, n: int, idle_seconds: float) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="orchtui-fleet-"))
    repo = make_repo(root)
    saved = {k: os.environ.get(k) for k in (*WORKER_ENV, "ORCHTUI_DB_URL", "ORCHTUI_SCRIPTED_SCENARIO")}
    contexts: list[Context] = []
    with running_postgres() as pg:
        url = pg.url(pg.new_database())
        os.environ.update(
            {
                "ORCHTUI_DB_URL": url,
                "ORCHTUI_STORE__KEY_FILE": str(root / "payload.key"),
                "ORCHTUI_SCRIPTED_SCENARIO": str(HERE / "scenario.toml"),
                "ORCHTUI_LIMITS__MAX_SESSIONS": str(n + 10),
            }
        )
        try:
            start = time.monotonic()
            ids: list[list[str]] = []
            for index in range(workers):
                ctx = start_worker(root, repo, index, url, n)
                contexts.append(ctx)
                service = SessionService(ctx)
                ids.append([service.create(repo, "scripted", f"w{index}-s{i:03d}").id for i in range(n)])
            for ctx, mine in zip(contexts, ids, strict=True):
                wait_all(ctx, mine, "idle", 120 + n)
            created = time.monotonic() - start
            time.sleep(2.0)

            engines = [psutil.Process(engine_process.engine_pid(c.config) or 0) for c in contexts]
            idle = [round(cpu_percent(e, idle_seconds / len(engines)), 2) for e in engines]

            source = DashboardSource(contexts[0])
            refresh = []
            for _ in range(20):
                t0 = time.perf_counter()
                snap = source.snapshot(None)
                refresh.append((time.perf_counter() - t0) * 1000)
            shown = len(snap.sessions)

            commits0, rows0 = writes(url)
            first_turn, t0 = time.time(), time.monotonic()
            gap = 5.0 / (workers * n)
            for ctx, mine in zip(contexts, ids, strict=True):
                for sid in mine:
                    ctx.ledger.enqueue(sid, "flip", actor="bench")
                    ctx.wake_engine("bench")
                    time.sleep(gap)
            for ctx, mine in zip(contexts, ids, strict=True):
                wait_done(ctx, mine, 120 + n)
            wall = time.monotonic() - t0
            time.sleep(1.5)  # PostgreSQL publishes its counters within a second
            commits1, rows1 = writes(url)
            samples: list[float] = []
            missed = 0
            for ctx, mine in zip(contexts, ids, strict=True):
                got, lost = latencies(ctx, mine, since=first_turn)
                samples += got
                missed += lost
            return {
                "workers": workers,
                "sessions_per_worker": n,
                "create_s": round(created, 1),
                "idle_cpu_pct_per_worker": idle,
                "idle_cpu_pct_mean": round(statistics.mean(idle), 2),
                "latency_samples": len(samples),
                "latency_missed_states": missed,
                "latency_p50_ms": round(pct(samples, 0.5), 1),
                "latency_p95_ms": round(pct(samples, 0.95), 1),
                "dashboard_sessions": shown,
                "dashboard_refresh_ms_median": round(statistics.median(refresh), 1),
                "dashboard_refresh_ms_p95": round(pct(refresh, 0.95), 1),
                "turn_round_s": round(wall, 1),
                "store_commits_per_s": round((commits1 - commits0) / wall, 1),
                "store_rows_written_per_s": round((rows1 - rows0) / wall, 1),
                "machine_cores": psutil.cpu_count(),
            }
        finally:
            for ctx in contexts:
                engine_process.stop(ctx.config)
                ctx.tmux.kill_server()
                ctx.store.close()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=100, help="per worker")
    parser.add_argument("--idle-seconds", type=float, default=20.0, help="spread over the workers")
    args = parser.parse_args()
    print(json.dumps(run(args.workers, args.sessions, args.idle_seconds), indent=2))


if __name__ == "__main__":
    main()
