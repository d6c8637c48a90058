"""What both benchmarks stand on: a temporary ORCHTUI_HOME and repository, the engine,
and N scripted sessions at their prompt; everything is torn down afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from orchtui.config import load_config
from orchtui.services import engine_process
from orchtui.services.context import Context
from orchtui.services.sessions import SessionService

HERE = Path(__file__).resolve().parent


@dataclass
class World:
    root: Path
    repo: Path
    ctx: Context
    engine: psutil.Process
    ids: list[str]
    create_seconds: float
    engine_rss_empty: float  # MiB, before any session


def make_repo(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.email", "b@x.invalid"],
        ["config", "user.name", "b"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True)
    (repo / "README.md").write_text("bench\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=repo, check=True)
    return repo


def wait_all(ctx: Context, ids: list[str], status: str, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        rows = {r.id: r.status for r in ctx.records.sessions()}
        if all(rows.get(i) == status for i in ids):
            return
        time.sleep(0.2)
    raise SystemExit(f"bench: sessions not all {status} after {timeout}s")


def cpu_percent(proc: psutil.Process, seconds: float) -> float:
    """CPU time the process used over `seconds`, as % of one core."""
    before = proc.cpu_times()
    time.sleep(seconds)
    after = proc.cpu_times()
    return 100.0 * ((after.user + after.system) - (before.user + before.system)) / seconds


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextmanager
def world(n: int, tag: str, populate: Callable[[Path], None] | None = None) -> Iterator[World]:
    root = Path(tempfile.mkdtemp(prefix=f"orchtui-{tag}-{n}-"))
    os.environ.update(
        {
            "ORCHTUI_HOME": str(root / "home"),
            "ORCHTUI_TMUX_SOCKET": f"orchtui-{tag}-{os.getpid()}-{n}",
            "ORCHTUI_SCRIPTED_SCENARIO": str(HERE / "scenario.toml"),
            "ORCHTUI_LIMITS__MAX_SESSIONS": str(n + 10),
        }
    )
    repo = make_repo(root)
    if populate is not None:
        populate(repo)
    config = load_config(repo)
    ctx = Context(config)
    try:
        engine = psutil.Process(engine_process.ensure_running(config, cwd=repo))
        time.sleep(1.0)
        empty = engine.memory_info().rss / 2**20
        service = SessionService(ctx)
        start = time.monotonic()
        ids = [service.create(repo, "scripted", f"s{i:03d}").id for i in range(n)]
        created = time.monotonic() - start
        wait_all(ctx, ids, "idle", 60 + n)
        yield World(root, repo, ctx, engine, ids, created, empty)
    finally:
        engine_process.stop(config)
        ctx.tmux.kill_server()
        ctx.store.close()
        shutil.rmtree(root, ignore_errors=True)
