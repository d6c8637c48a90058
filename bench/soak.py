"""Memory over a long stream: the dashboard and the engine while sessions stream for
`--minutes` (default 30), with one of the streaming sessions selected so its live view
keeps updating.

Samples both processes' RSS every `--sample` seconds and reports the RSS at minute
`--from-minute` (2 by default), at the end, the growth between them (%), and the peak.
The goal is a flat line: growth ≤ 5 % after minute 2 over 30 minutes; at 500 sessions
(issue 20), the engine's RSS after 10 minutes within 10 % of its RSS after 1:

    .venv/bin/python bench/soak.py --sessions 100 --streaming 10 --minutes 30
    .venv/bin/python bench/soak.py --sessions 500 --streaming 20 --minutes 10 --from-minute 1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import libtmux

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from dashboard import launch  # noqa: E402
from world import wait_all, world  # noqa: E402


def growth(series: list[tuple[float, float]], after: float) -> tuple[float, float, float]:
    """RSS (MB) at `after` seconds, at the end, and the growth between them in %."""
    start = next((mb for t, mb in series if t >= after), series[-1][1])
    end = series[-1][1]
    return start, end, 100.0 * (end - start) / start


def run(n: int, streaming: int, minutes: float, sample: float, from_minute: float = 2.0) -> dict[str, Any]:
    term = libtmux.Server(socket_name=f"orchtui-soak-{uuid.uuid4().hex[:6]}")
    try:
        with world(n, "soak") as w:
            dash = launch(w, term, w.root / "marks.json", timed=False)
            for sid in w.ids[:streaming]:  # the first rows: the selected session streams
                w.ctx.ledger.enqueue(sid, "soak", actor="bench")
            w.ctx.wake_engine("bench")
            wait_all(w.ctx, w.ids[:streaming], "working", 60)
            series: dict[str, list[tuple[float, float]]] = {"dashboard": [], "engine": []}
            procs = {"dashboard": dash, "engine": w.engine}
            start = time.monotonic()
            while (elapsed := time.monotonic() - start) < minutes * 60:
                for name, proc in procs.items():
                    series[name].append((elapsed, proc.memory_info().rss / 2**20))
                time.sleep(sample)
            for name, proc in procs.items():
                series[name].append((time.monotonic() - start, proc.memory_info().rss / 2**20))
            still = sum(
                1 for r in w.ctx.records.sessions() if r.id in w.ids[:streaming] and r.status == "working"
            )
            term.cmd("send-keys", "-t", "dash", "q")
            result: dict[str, Any] = {"sessions": n, "streaming": streaming, "minutes": minutes}
            mark = f"{from_minute:g}"
            for name, points in series.items():
                at, end, pct = growth(points, after=min(from_minute * 60, minutes * 60 / 2))
                result[f"{name}_rss_min{mark}_mb"] = round(at, 1)
                result[f"{name}_rss_end_mb"] = round(end, 1)
                result[f"{name}_growth_after_min{mark}_pct"] = round(pct, 1)
                result[f"{name}_rss_peak_mb"] = round(max(mb for _t, mb in points), 1)
            result["still_streaming_at_end"] = still
            result["load_avg_1m"] = round(os.getloadavg()[0], 2)
            result["series"] = {k: [(round(t), round(mb, 1)) for t, mb in v] for k, v in series.items()}
            return result
    finally:
        if term.is_alive():
            term.kill()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--streaming", type=int, default=10)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--sample", type=float, default=10.0)
    parser.add_argument("--from-minute", type=float, default=2.0, help="the growth is measured from here")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "soak.json")
    args = parser.parse_args()
    result = run(args.sessions, args.streaming, args.minutes, args.sample, args.from_minute)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    for key, value in result.items():
        if key != "series":
            print(f"{key:>34}  {value}")


if __name__ == "__main__":
    main()
