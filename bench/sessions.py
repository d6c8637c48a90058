"""Engine benchmark: N scripted sessions, idle then streaming.

Reports for each N orchtui's whole idle footprint (engine, tmux server, launchers,
pipe-pane readers; bench/footprint.py) beside a 500 ms capture-pane poller on the same
sessions in the same run (its CPU, and its latency: from a change on a pane to its next
capture of that pane, from its real capture times), with the machine's load; the
engine's CPU (% of one core) while every agent is idle and
while all of them work and stream, the output→state latency (from the moment the
agent records a state change in its transcript to the engine's status event for it;
p50/p95), and the engine's RSS. Everything is real: tmux, git worktrees, SQLite.

    .venv/bin/python bench/sessions.py --counts 20 50 100
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from footprint import measure as footprint
from footprint import poller, processes
from world import cpu_percent, pct, world

from orchtui.services.context import Context

HERE = Path(__file__).resolve().parent


def wait_done(ctx: Context, ids: list[str], timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if all(r.state in ("done", "failed") for sid in ids for r in ctx.ledger.rows(sid)):
            return
        time.sleep(0.2)
    raise SystemExit(f"bench: commands not all finished after {timeout}s")


def tmux_server(ctx: Context) -> psutil.Process | None:
    out = ctx.tmux.run("display-message", "-p", "#{pid}")
    return psutil.Process(int(out[0])) if out else None


def latencies(ctx: Context, ids: list[str], since: float) -> tuple[list[float], int]:
    """Pair each agent-side state change with the engine's first matching status event;
    also count the agent's states that lasted 250 ms or more and got no status event."""
    timed, missed = timed_latencies(ctx, ids, since)
    return [ms for _t, ms, _state in timed], missed


def worst(timed: list[tuple[float, float, str]], since: float, count: int = 12) -> list[str]:
    """The slowest state changes: seconds into the phase, milliseconds, the state."""
    slowest = sorted(timed, key=lambda item: -item[1])[:count]
    return [f"{t - since:.2f}s {ms:.0f}ms {state}" for t, ms, state in sorted(slowest)]


def timed_latencies(ctx: Context, ids: list[str], since: float) -> tuple[list[tuple[float, float, str]], int]:
    """latencies(), each with the moment of the agent's change and its state."""
    out: list[tuple[float, float, str]] = []
    missed = 0
    home = ctx.config.state
    for sid in ids:
        path = home.session_dir(sid) / "transcript.jsonl"
        marks = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        agent = [(m["t"], m["state"]) for m in marks if m["type"] == "state"]
        events = [(e.at, json.loads(e.data)["new"]) for e in ctx.records.events(sid, "status")]
        for i, (t, state) in enumerate(agent[1:], start=1):  # skip the very first idle (startup)
            if t < since:
                continue
            nxt = agent[i + 1][0] if i + 1 < len(agent) else float("inf")
            hit = [at for at, new in events if new == state and t - 0.001 <= at < nxt + 5]
            if hit:
                out.append((t, max(0.0, hit[0] - t) * 1000, state))
            elif nxt - t >= 0.25:
                missed += 1
    return out, missed


def memory_per_session(ctx: Context, engine: psutil.Process, n: int, empty_mb: float) -> dict[str, float]:
    """What one session costs orchtui in memory (MiB): its launcher's and its pipe-pane
    reader's own memory (USS: pages no other process shares), the engine's growth over
    the sessions (its RSS now less its RSS with none, over n), and the tmux server's RSS
    over n."""
    roles = processes(ctx, engine)

    def own(procs: list[psutil.Process]) -> float:
        sizes = []
        for proc in procs:
            try:
                sizes.append(proc.memory_full_info().uss / 2**20)
            except psutil.Error:
                continue
        return sum(sizes) / len(sizes) if sizes else float("nan")

    launcher, pipe = own(roles["launchers"]), own(roles["pipes"]) * (len(roles["pipes"]) / max(n, 1))
    engine_share = (engine.memory_info().rss / 2**20 - empty_mb) / n
    tmux = roles["tmux"][0].memory_info().rss / 2**20 / n
    return {
        "launcher_uss_mb": round(launcher, 2),
        "pipe_uss_mb": round(pipe, 2),
        "engine_share_mb": round(engine_share, 2),
        "tmux_share_mb": round(tmux, 2),
        "per_session_mb": round(launcher + pipe + engine_share + tmux, 2),
        "pipe_processes_per_session": round(len(roles["pipes"]) / max(n, 1), 2),
    }


GAP = 0.025  # seconds between staggered turns, whatever the number of sessions
BURST = 100  # agents that start a turn at one instant (issue 20: the 100-agent burst)


def profiled(engine: psutil.Process, out: Path | None, name: str) -> subprocess.Popen[bytes] | None:
    """py-spy recording the engine (raw stacks, `out/NAME.txt`) until stopped; None without --profile."""
    if out is None:
        return None
    out.mkdir(parents=True, exist_ok=True)
    spy_bin = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")  # the venv's
    argv = [spy_bin, "record", "--pid", str(engine.pid), "-r", "200", "--format", "raw", "--nonblocking"]
    return subprocess.Popen([*argv, "-o", str(out / f"{name}.txt")], stdout=subprocess.DEVNULL)


def stop(spy: subprocess.Popen[bytes] | None) -> None:
    if spy is not None:
        spy.send_signal(2)  # py-spy writes its file on Ctrl-C
        spy.wait(30)


def run(n: int, idle_seconds: float, profile: Path | None = None) -> dict[str, Any]:
    with world(n, "bench") as w:
        ctx, ids, engine = w.ctx, w.ids, w.engine
        time.sleep(1.0)
        memory = memory_per_session(ctx, engine, n, w.engine_rss_empty)
        whole = footprint(processes(ctx, engine), idle_seconds)
        polling = poller(ctx, idle_seconds)
        idle_cpu = cpu_percent(engine, idle_seconds)
        rss_idle = engine.memory_info().rss / 2**20

        # staggered turns: one prompt every GAP seconds across the sessions (40 a second,
        # at any n: the status path must not slow down with the number of idle sessions)
        log_from = len(ctx.config.state.engine_log.read_text(errors="replace"))  # the turns' part of it
        first_turn = time.time()
        spy = profiled(engine, profile, f"staggered-{n}")
        for sid in ids:
            ctx.ledger.enqueue(sid, "flip", actor="bench")
            ctx.wake_engine("bench")
            time.sleep(GAP)
        wait_done(ctx, ids, 60 + n)
        time.sleep(1.0)  # a turn can be done by its marker a moment before its `idle` is written
        stop(spy)
        timed_staggered, missed_staggered = timed_latencies(ctx, ids, since=first_turn)
        lat_staggered = [ms for _t, ms, _state in timed_staggered]

        # burst: BURST agents (all, when fewer) work and stream 40 lines at the same moment
        tmux_proc = tmux_server(ctx)
        tmux_before = tmux_proc.cpu_times() if tmux_proc else None
        psutil.cpu_percent(None)
        before = engine.cpu_times()
        start = time.monotonic()
        burst_start = time.time()
        spy = profiled(engine, profile, f"burst-{n}")
        bursting = ids[:BURST]
        for sid in bursting:
            ctx.ledger.enqueue(sid, "stream please", actor="bench")
        ctx.wake_engine("bench")
        wait_done(ctx, bursting, 120 + n)
        wall = time.monotonic() - start
        machine = psutil.cpu_percent(None)
        after = engine.cpu_times()
        stream_cpu = 100.0 * ((after.user + after.system) - (before.user + before.system)) / wall
        tmux_cpu = float("nan")
        if tmux_proc and tmux_before:
            t_after = tmux_proc.cpu_times()
            tmux_cpu = (
                100.0 * ((t_after.user + t_after.system) - (tmux_before.user + tmux_before.system)) / wall
            )
        time.sleep(1.0)  # as above: the last `idle` may follow its turn's end
        stop(spy)
        rss_peak = engine.memory_info().rss / 2**20
        timed_burst, missed_burst = timed_latencies(ctx, bursting, since=burst_start)
        lat_burst = [ms for _t, ms, _state in timed_burst]
        undone = [r for sid in ids for r in ctx.ledger.rows(sid) if r.state != "done"]
        log = ctx.config.state.engine_log.read_text(errors="replace")[log_from:]
        pauses = re.findall(r"collector: a full pass held the engine (\d+) ms", log)
        return {
            "sessions": n,
            "create_s": round(w.create_seconds, 1),
            "idle_footprint": whole.as_dict(),
            "idle_poller": polling.as_dict(),
            "idle_footprint_vs_poller": (
                round(whole.total / polling.footprint.total, 3) if polling.footprint.total else None
            ),
            "idle_cpu_pct": round(idle_cpu, 2),
            "stream_cpu_pct": round(stream_cpu, 1),
            "stream_wall_s": round(wall, 1),
            "burst_machine_cpu_pct": round(machine, 1),
            "burst_tmux_cpu_pct": round(tmux_cpu, 1),
            "latency_samples": len(lat_staggered),
            "latency_missed_states": missed_staggered,
            "burst_agents": len(bursting),
            "burst_samples": len(lat_burst),
            "burst_missed_states": missed_burst,
            "latency_p50_ms": round(pct(lat_staggered, 0.5), 1),
            "latency_p95_ms": round(pct(lat_staggered, 0.95), 1),
            "burst_latency_p50_ms": round(pct(lat_burst, 0.5), 1),
            "burst_latency_p95_ms": round(pct(lat_burst, 0.95), 1),
            "slowest_staggered": worst(timed_staggered, first_turn),  # when the tail happened
            "slowest_burst": worst(timed_burst, burst_start),
            "rss_idle_mb": round(rss_idle, 1),
            "memory": memory,
            "rss_after_stream_mb": round(rss_peak, 1),
            "commands_not_done": len(undone),
            # the collector's full passes of 20 ms or more, while the turns ran
            "collector_pauses_ms": [int(ms) for ms in pauses],
            "machine_cores": psutil.cpu_count(),
        }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--counts", type=int, nargs="+", default=[20, 50, 100])
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "sessions.json")
    parser.add_argument("--profile", type=Path, help="record the engine with py-spy into this folder")
    args = parser.parse_args()
    results = []
    for n in args.counts:
        result = run(n, args.idle_seconds, args.profile)
        results.append(result)
        print(json.dumps(result), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    for r in results:
        r["idle_footprint_pct"] = r["idle_footprint"]["total_pct"]
        r["idle_poller_pct"] = r["idle_poller"]["total_pct"]
        r["poller_latency_p95_ms"] = r["idle_poller"]["latency_p95_ms"]
        r["per_session_mb"] = r["memory"]["per_session_mb"]
    cols = [
        "sessions",
        "idle_footprint_pct",
        "idle_poller_pct",
        "idle_footprint_vs_poller",
        "idle_cpu_pct",
        "latency_p50_ms",
        "latency_p95_ms",
        "poller_latency_p95_ms",
        "stream_cpu_pct",
        "burst_latency_p95_ms",
        "burst_missed_states",
        "burst_machine_cpu_pct",
        "burst_tmux_cpu_pct",
        "rss_after_stream_mb",
        "per_session_mb",
    ]
    print()
    for c in cols:
        print(f"{c:>22}  " + "  ".join(f"{r[c]!s:>8}" for r in results))


if __name__ == "__main__":
    sys.exit(main())
