"""orchtui's whole footprint, and a 500 ms capture-pane poller on the same sessions to
compare it with (what a polling session manager would cost in the same run).

The footprint counts every process orchtui runs: the engine, its tmux server, each
session's launcher and pipe-pane reader (`cat`, which the shell tmux starts it in becomes), and the
dashboard when one is given. The agents themselves are not counted.
"""

from __future__ import annotations

import itertools
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import psutil

from orchtui.services.context import Context

POLL_INTERVAL = 0.5


@dataclass
class Footprint:
    seconds: float
    by_role: dict[str, float]  # % of one core
    load: tuple[float, float, float]  # the machine's load average at the end

    @property
    def total(self) -> float:
        return sum(self.by_role.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "total_pct": round(self.total, 2),
            **{f"{role}_pct": round(value, 2) for role, value in sorted(self.by_role.items())},
            "load_avg_1m": round(self.load[0], 2),
        }


def tmux_server(ctx: Context) -> psutil.Process:
    out = ctx.tmux.run("display-message", "-p", "#{pid}")
    return psutil.Process(int(out[0]))


def processes(
    ctx: Context, engine: psutil.Process, dashboard: psutil.Process | None = None
) -> dict[str, list[psutil.Process]]:
    """orchtui's processes by role (agents excluded)."""
    server = tmux_server(ctx)
    roles: dict[str, list[psutil.Process]] = {
        "engine": [engine],
        "tmux": [server],
        "launchers": [],
        "pipes": [],
    }
    if dashboard is not None:
        roles["dashboard"] = [dashboard]
    for child in server.children():
        try:
            cmd = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "orchtui.runtime.launch" in cmd or "orchtui/runtime/launch.py" in cmd:
            roles["launchers"].append(child)
        elif "cat >>" in cmd or cmd == "cat":  # `sh -c cat >> log`, or the cat it became
            roles["pipes"] += [child, *child.children(recursive=True)]
    return roles


def _cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def measure(roles: dict[str, list[psutil.Process]], seconds: float) -> Footprint:
    before = {role: _cpu(procs) for role, procs in roles.items()}
    time.sleep(seconds)
    after = {role: _cpu(procs) for role, procs in roles.items()}
    by_role = {role: 100.0 * (after[role] - before[role]) / seconds for role in roles}
    return Footprint(seconds, by_role, os.getloadavg())


POLLER = """
import subprocess, sys, time
socket, interval, panes = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
while True:
    start = time.monotonic()
    for index, pane in enumerate(panes):
        subprocess.run(["tmux", "-L", socket, "capture-pane", "-p", "-t", pane], capture_output=True)
        print(index, time.monotonic(), flush=True)  # when this pane's screen was seen
    time.sleep(max(0.0, interval - (time.monotonic() - start)))
"""


@dataclass
class Polling:
    footprint: Footprint
    sweep_s: list[float]  # how long each full round over the panes took
    latency_ms: list[float]  # from a change on a pane to the poller's next capture of it

    def as_dict(self) -> dict[str, object]:
        ordered = sorted(self.latency_ms)

        def pct(q: float) -> float:
            if not ordered:
                return -1.0
            return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 1)

        return {
            **self.footprint.as_dict(),
            "sweep_s_median": statistics.median(self.sweep_s) if self.sweep_s else None,
            "latency_p50_ms": pct(0.5),
            "latency_p95_ms": pct(0.95),
        }


def latencies(captures: dict[int, list[float]], step: float = 0.01) -> list[float]:
    """For a change at each moment `step` apart on each pane, the wait until the poller's
    next capture of that pane (its real capture times: the sweep of 500 panes is slow)."""
    out = []
    for times in captures.values():
        times = sorted(times)
        for before, after in itertools.pairwise(times):
            at = before
            while at < after:
                out.append((after - at) * 1000)
                at += step
    return out


def poller(ctx: Context, seconds: float) -> Polling:
    """A capture-pane poller over every pane, every 500 ms: its own CPU, its tmux
    clients' and the extra it costs the tmux server, and how late it sees a change."""
    panes = [row.tmux_pane for row in ctx.records.sessions(live_only=True) if row.tmux_pane]
    server = tmux_server(ctx)
    quiet = measure({"tmux": [server]}, min(seconds, 5.0)).by_role["tmux"]
    proc = subprocess.Popen(
        [sys.executable, "-c", POLLER, ctx.config.socket_name, str(POLL_INTERVAL), *panes],
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    try:
        time.sleep(POLL_INTERVAL)  # one round before measuring
        found = measure({"poller": [psutil.Process(proc.pid)], "tmux": [server]}, seconds)
    finally:
        proc.kill()
        proc.wait()
        reader.join(5)
    found.by_role["tmux"] = max(0.0, found.by_role["tmux"] - quiet)
    captures: dict[int, list[float]] = {}
    for line in lines:
        fields = line.split()
        if len(fields) == 2:  # (the last line may be cut by the kill)
            captures.setdefault(int(fields[0]), []).append(float(fields[1]))
    first = captures.get(0, [])
    sweeps = [b - a for a, b in itertools.pairwise(first)]
    return Polling(found, sweeps, latencies(captures))
