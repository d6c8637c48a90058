"""Print the conformance matrix that tests/test_conformance.py left in a folder."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

CLIENTS = ["claude", "codex", "aider", "gemini"]


def pct(values: list[float], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]:.0f}"


def main(folder: Path) -> int:
    data = {
        c: json.loads((folder / f"{c}.json").read_text()) for c in CLIENTS if (folder / f"{c}.json").exists()
    }
    scenarios: list[str] = []
    for result in data.values():
        scenarios += [s for s in result["cells"] if s not in scenarios]
    width = max([len(s) for s in scenarios] + [8])
    print(f"{'scenario':{width}}  " + "  ".join(f"{c:8}" for c in data))
    for scenario in scenarios:
        cells = [data[c]["cells"].get(scenario, "-") for c in data]
        print(f"{scenario:{width}}  " + "  ".join(f"{('ok' if v == 'ok' else v[:8]):8}" for v in cells))
    print()
    print(
        "lag of orchtui's status behind the agent, ms (start: its first model request; end: its last reply)"
    )
    for client, result in data.items():
        for what in ("start", "end"):
            lags = [lag["ms"] for lag in result["lags"] if lag["what"] == what]
            mean = f"{statistics.mean(lags):.0f}" if lags else "-"
            print(
                f"  {client:8} {what:5} n={len(lags):2}"
                f"  p50 {pct(lags, 0.5):>6}  p95 {pct(lags, 0.95):>6}  mean {mean}"
            )
    failed = [
        f"{c}: {s}: {v}" for c, r in data.items() for s, v in r["cells"].items() if v not in ("ok", "n/a")
    ]
    for line in failed:
        print("FAILED", line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
