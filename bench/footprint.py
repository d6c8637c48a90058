"""orchtui's whole footprint, and a 500 ms capture-pane poller on the same sessions to
compare it with (what a polling session manager would cost in the same run).

The footprint counts every process orchtui runs: the engine, its tmux server, each
session's launcher and pipe-pane reader (`cat`, which the shell tmux starts it in becomes), and the
dashboard when one is given. The agents themselves are not counted.
"""

from __future__ import annotations

import os
import subprocess
import sys
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
    for pane in panes:
        subprocess.run(["tmux", "-L", socket, "capture-pane", "-p", "-t", pane], capture_output=True)
    time.sleep(max(0.0, interval - (time.monotonic() - start)))
"""


def poller(ctx: Context, seconds: float) -> Footprint:
    """A capture-pane poller over every pane, every 500 ms: its own CPU, its tmux
    clients' and the extra it costs the tmux server."""
    panes = [row.tmux_pane for row in ctx.records.sessions(live_only=True) if row.tmux_pane]
    server = tmux_server(ctx)
    quiet = measure({"tmux": [server]}, min(seconds, 5.0)).by_role["tmux"]
    proc = subprocess.Popen(
        [sys.executable, "-c", POLLER, ctx.config.socket_name, str(POLL_INTERVAL), *panes],
        stdout=subprocess.DEVNULL,
    )
    try:
        time.sleep(POLL_INTERVAL)  # one round before measuring
        found = measure({"poller": [psutil.Process(proc.pid)], "tmux": [server]}, seconds)
    finally:
        proc.kill()
        proc.wait()
    found.by_role["tmux"] = max(0.0, found.by_role["tmux"] - quiet)
    return found
