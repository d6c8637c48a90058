"""CLI benchmark: how fast verbs answer with N scripted sessions (default 100).

For `orchtui --version`, `orchtui session list --json` and `orchtui session send ID TEXT
--no-wait` (queued, not waiting for the agent), the median and p95 of `--runs` runs, both
through the warm CLI process the engine keeps (the default) and each in its own process
(ORCHTUI_NO_WARM=1). Also the machine's load average, as every figure here is wall time.

    .venv/bin/python bench/cli.py --sessions 100
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from world import pct, world  # noqa: E402


def timed(args: list[str], cwd: Path, env: dict[str, str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "orchtui", *args], cwd=cwd, env=env, capture_output=True, check=True
        )
        out.append((time.perf_counter() - start) * 1000)
    return out


def run(n: int, runs: int) -> dict[str, Any]:
    with world(n, "cli") as w:
        socket = w.ctx.config.state.run / "cli.sock"
        end = time.monotonic() + 60
        while not socket.exists() and time.monotonic() < end:
            time.sleep(0.1)
        result: dict[str, Any] = {"sessions": n, "runs": runs}
        for mode, extra in (("warm", {}), ("cold", {"ORCHTUI_NO_WARM": "1"})):
            env = {**os.environ, **extra}
            for name, args in (
                ("version", ["--version"]),
                ("list", ["session", "list", "--json"]),
                ("send", ["session", "send", w.ids[0], "ok", "--no-wait"]),
            ):
                times = timed(args, w.repo, env, runs)
                result[f"{mode}_{name}_median_ms"] = round(statistics.median(times), 1)
                result[f"{mode}_{name}_p95_ms"] = round(pct(times, 0.95), 1)
        result["load_avg_1m"] = round(os.getloadavg()[0], 2)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "cli.json")
    args = parser.parse_args()
    result = run(args.sessions, args.runs)
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
