"""Dashboard benchmark with N scripted sessions (default 100).

Runs the real dashboard in a real terminal (a tmux pane on a separate server) and
reports: the time from launching `orchtui` (as a user does: through the warm CLI process
while the engine runs, and cold with ORCHTUI_NO_WARM=1) until its screen shows the first
session row (median of 3, read from the pane every 5 ms); the
dashboard's CPU (% of one core) while all agents idle and while 10 of them stream
output (one of them selected, so its live view updates); and key press → frame
latency (p50/p95: from the key event reaching the app to the next frame written to
the terminal) while idle and while streaming.

    .venv/bin/python bench/dashboard.py --sessions 100
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import libtmux
import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from world import World, cpu_percent, pct, wait_all, world  # noqa: E402


def key_latencies(marks: list[tuple[str, float]], start: float, end: float) -> list[float]:
    out = []
    for i, (kind, at) in enumerate(marks):
        if kind != "key" or not start <= at <= end:
            continue
        frame = next((t for k, t in marks[i + 1 :] if k == "frame"), None)
        if frame is not None:
            out.append((frame - at) * 1000)
    return out


def press_keys(term: libtmux.Server, count: int, seed: int) -> tuple[float, float]:
    """Up/Down at random gaps of 50-350 ms, so keys also land while a selection loads."""
    rng = random.Random(seed)
    start = time.perf_counter()
    for i in range(count):
        term.cmd("send-keys", "-t", "dash", "Down" if i % 2 == 0 else "Up")
        time.sleep(rng.uniform(0.05, 0.35))
    return start, time.perf_counter()


def run(n: int, seconds: float) -> dict[str, Any]:
    term = libtmux.Server(socket_name=f"orchtui-dterm-{uuid.uuid4().hex[:6]}")
    try:
        with world(n, "dbench") as w:
            return measure(w, term, seconds)
    finally:
        if term.is_alive():
            term.kill()


def launch(w: World, term: libtmux.Server, out: Path, timed: bool = True) -> psutil.Process:
    """The timed dashboard (bench/dashboard_app.py) in a 200x50 terminal on `term`; returns
    once it has drawn and settled. Untimed, it keeps no marks (a soak measures the
    dashboard's memory, not the bench's log of frames)."""
    keys = ["ORCHTUI_HOME", "ORCHTUI_TMUX_SOCKET", "ORCHTUI_SCRIPTED_SCENARIO", "PATH", "HOME"]
    env = [arg for key in keys for arg in ("-e", f"{key}={os.environ[key]}")]
    if not timed:
        env += ["-e", "BENCH_UNTIMED=1"]
    for key in ("BENCH_TRACEMALLOC", "BENCH_PROFILE"):  # where the memory or the time goes
        if os.environ.get(key):
            env += ["-e", f"{key}={os.environ[key]}"]
    term.cmd(
        "new-session",
        "-d",
        "-s",
        "dash",
        "-x",
        "200",
        "-y",
        "50",
        "-c",
        str(w.repo),
        *env,
        "-e",
        "TERM=xterm-256color",
        sys.executable,
        str(HERE / "dashboard_app.py"),
        str(out),
    )
    end = time.monotonic() + 60
    while not out.with_suffix(".ready").exists() and time.monotonic() < end:
        time.sleep(0.1)
    time.sleep(2.0)
    pid = int(term.cmd("display-message", "-p", "-t", "dash", "#{pane_pid}").stdout[0])
    return psutil.Process(pid)


def first_rows(w: World, term: libtmux.Server, cold: bool, tries: int = 3) -> list[float]:
    """`orchtui` as a user starts it, in a 200x50 terminal: ms from launch until its screen
    shows the first session's id (the pane is read every 5 ms). With the engine running,
    the warm CLI process serves it; `cold` (ORCHTUI_NO_WARM=1) starts it from nothing."""
    env = [
        arg
        for key in ("ORCHTUI_HOME", "ORCHTUI_TMUX_SOCKET", "ORCHTUI_SCRIPTED_SCENARIO", "PATH", "HOME")
        for arg in ("-e", f"{key}={os.environ[key]}")
    ]
    if cold:
        env += ["-e", "ORCHTUI_NO_WARM=1"]
    times = []
    for _ in range(tries):
        start = time.monotonic()
        term.cmd(
            "new-session", "-d", "-s", "start", "-x", "200", "-y", "50", "-c", str(w.repo), *env,
            "-e", "TERM=xterm-256color", sys.executable, "-m", "orchtui",
        )  # fmt: skip
        while time.monotonic() - start < 30:
            if any(w.ids[0] in line for line in term.cmd("capture-pane", "-p", "-t", "start").stdout):
                times.append((time.monotonic() - start) * 1000)
                break
            time.sleep(0.005)
        term.cmd("send-keys", "-t", "start", "q")
        end = time.monotonic() + 10
        while term.cmd("has-session", "-t", "start").returncode == 0 and time.monotonic() < end:
            time.sleep(0.05)
        time.sleep(0.5)
    return times


def measure(w: World, term: libtmux.Server, seconds: float) -> dict[str, Any]:
    ctx, ids = w.ctx, w.ids
    sock = Path(os.environ["ORCHTUI_HOME"]) / "run" / "cli.sock"
    end = time.monotonic() + 30
    while not sock.exists() and time.monotonic() < end:  # the warm process has imported everything
        time.sleep(0.1)
    warm_starts = first_rows(w, term, cold=False)
    cold_starts = first_rows(w, term, cold=True)
    out = w.root / "marks.json"
    launched = time.time()
    dash = launch(w, term, out)
    idle_cpu = cpu_percent(dash, seconds)
    idle_keys = press_keys(term, 120, seed=1)

    streamers = ids[:10]  # the first rows; the selected session (row 0) is one of them
    for sid in streamers:
        ctx.ledger.enqueue(sid, "longstream", actor="bench")
    ctx.wake_engine("bench")
    wait_all(ctx, streamers, "working", 30)
    time.sleep(1.0)
    stream_cpu = cpu_percent(dash, seconds)
    stream_keys = press_keys(term, 120, seed=2)
    crashed = not dash.is_running() or dash.status() == psutil.STATUS_ZOMBIE
    if crashed:  # what the pane shows: the traceback
        shown = "\n".join(term.cmd("capture-pane", "-p", "-t", "dash", "-S", "-40").stdout)
        return {"sessions": len(ids), "crashed": True, "pane": shown[-3000:]}
    rss = dash.memory_info().rss / 2**20
    term.cmd("send-keys", "-t", "dash", "q")
    end = time.monotonic() + 20
    while not out.exists() and time.monotonic() < end:
        time.sleep(0.1)
    marks = [(k, t) for k, t in json.loads(out.read_text())]
    first_row = next((t for k, t in marks if k == "first-row-wall"), None)
    idle_lat = key_latencies(marks, *idle_keys)
    stream_lat = key_latencies(marks, *stream_keys)
    return {
        "sessions": len(ids),
        "crashed": False,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "start_to_first_row_ms": round(statistics.median(warm_starts)) if warm_starts else None,
        "start_to_first_row_all_ms": [round(t) for t in warm_starts],
        "cold_start_to_first_row_ms": round(statistics.median(cold_starts)) if cold_starts else None,
        "timed_app_first_row_ms": round((first_row - launched) * 1000) if first_row else None,
        "dashboard_idle_cpu_pct": round(idle_cpu, 2),
        "dashboard_10_streaming_cpu_pct": round(stream_cpu, 1),
        "key_frame_idle_p50_ms": round(pct(idle_lat, 0.5), 1),
        "key_frame_idle_p95_ms": round(pct(idle_lat, 0.95), 1),
        "key_frame_streaming_p50_ms": round(pct(stream_lat, 0.5), 1),
        "key_frame_streaming_p95_ms": round(pct(stream_lat, 0.95), 1),
        "key_samples": len(idle_lat) + len(stream_lat),
        "dashboard_rss_mb": round(rss, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "dashboard.json")
    args = parser.parse_args()
    result = run(args.sessions, args.seconds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    for key, value in result.items():
        print(f"{key:>32}  {value}")


if __name__ == "__main__":
    main()
