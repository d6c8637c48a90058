"""Diff view benchmark: the view opening on a worktree with 5,000 changed lines across
200 files (half committed, half not) in a repository of 3,000 tracked files.

Runs the real dashboard in a real terminal (a tmux pane on its own server), selects the
session, presses `v` and at once keeps pressing keys (↓ ↑ n p ] [ at random 30-150 ms
gaps) while the view loads and while files are being opened. Reports key → frame latency
(p50/p95/max) for the keys pressed while the file list was still loading and for all
keys, and how long the view took to show its complete file list and its first diff.

    .venv/bin/python bench/diff.py
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import libtmux

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from dashboard import key_latencies  # noqa: E402
from world import World, pct, world  # noqa: E402

PASSED = ("ORCHTUI_HOME", "ORCHTUI_TMUX_SOCKET", "ORCHTUI_SCRIPTED_SCENARIO", "PATH", "HOME")
PASSED += ("BENCH_PROFILE", "BENCH_DEBUG", "TEXTUAL_FPS")  # profiling and debugging aids
KEYS = ["Down", "Down", "Up", "n", "n", "p", "]", "["]


def base_files(repo: Path, tracked: int = 3000) -> None:
    """The repository: `tracked` files of 40 lines in 30 folders, committed on main."""
    for i in range(tracked):
        path = repo / f"pkg{i % 30:02d}" / f"mod{i:04d}.py"
        path.parent.mkdir(exist_ok=True)
        path.write_text("".join(f"value_{i}_{n} = {n}  # original line\n" for n in range(40)))
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "a large repository"], cwd=repo, check=True)


def change(worktree: Path, files: int, lines: int) -> int:
    """Rewrite `lines` lines in each of `files` files (two hunks each); commit half."""
    changed = 0
    for i in range(files):
        path = worktree / f"pkg{i % 30:02d}" / f"mod{i:04d}.py"
        rows = path.read_text().splitlines(keepends=True)
        for n in [*range(2, 2 + lines // 2), *range(26, 26 + lines - lines // 2)]:
            rows[n] = f"value_{i}_{n} = {n} * 2  # changed by the agent\n"
            changed += 1
        path.write_text("".join(rows))
        if i == files // 2 - 1:
            subprocess.run(["git", "add", "-A"], cwd=worktree, check=True)
            subprocess.run(["git", "commit", "-qm", "feat: first half"], cwd=worktree, check=True)
    return changed


def measure(w: World, term: libtmux.Server, files: int, lines: int, keys: int) -> dict[str, Any]:
    worktree = Path(w.ctx.records.worktree(w.ctx.records.session(w.ids[0]).worktree_id or 0).path)
    changed = change(worktree, files, lines)
    out = w.root / "marks.json"
    env = [arg for key in PASSED if key in os.environ for arg in ("-e", f"{key}={os.environ[key]}")]
    term.cmd(
        "new-session", "-d", "-s", "dash", "-x", "200", "-y", "50", "-c", str(w.repo), *env,
        "-e", "TERM=xterm-256color", sys.executable, str(HERE / "dashboard_app.py"), str(out),
    )  # fmt: skip
    end = time.monotonic() + 60
    while not out.with_suffix(".ready").exists() and time.monotonic() < end:
        time.sleep(0.1)
    end = time.monotonic() + 60  # the dashboard shows the session selected
    while f"Output · {w.ids[0]}" not in "\n".join(term.cmd("capture-pane", "-p", "-t", "dash").stdout):
        if time.monotonic() > end:
            raise SystemExit("bench: the dashboard never selected the session")
        time.sleep(0.2)
    time.sleep(1.0)
    rng = random.Random(7)
    pressed_v = time.perf_counter()
    term.cmd("send-keys", "-t", "dash", "v")
    start = time.perf_counter()
    for _ in range(keys):
        time.sleep(rng.uniform(0.03, 0.15))
        term.cmd("send-keys", "-t", "dash", rng.choice(KEYS))
    stop = time.perf_counter()
    time.sleep(1.0)
    term.cmd("send-keys", "-t", "dash", "Escape")
    time.sleep(0.5)
    term.cmd("send-keys", "-t", "dash", "q")
    end = time.monotonic() + 20
    while not out.exists() and time.monotonic() < end:
        time.sleep(0.1)
    marks = [(k, t) for k, t in json.loads(out.read_text())]
    if os.environ.get("BENCH_DEBUG"):
        from collections import Counter

        print(Counter(k for k, _ in marks), [round(t * 1000) for k, t in marks if k == "gc2"])
        names = json.loads(out.with_suffix(".keys").read_text())
        per: dict[str, list[float]] = {}
        keys_at = [t for k, t in marks if k == "key"]
        for name, at in zip(names, keys_at, strict=False):
            frame = next((t for k, t in marks if k == "frame" and t > at), None)
            if frame is not None:
                per.setdefault(name, []).append(round((frame - at) * 1000, 1))
        for name, values in per.items():
            print(name, sorted(values))
    listed = next((t for k, t in marks if k == "diff-list"), float("nan"))
    first = next((t for k, t in marks if k == "diff-first"), float("nan"))
    all_keys = key_latencies(marks, start, stop)
    loading = key_latencies(marks, start, listed)
    return {
        "changed_files": files,
        "changed_lines": changed,
        "tracked_files": 3000,
        "file_list_complete_ms": round((listed - pressed_v) * 1000, 1),
        "first_diff_shown_ms": round((first - pressed_v) * 1000, 1),
        "keys_while_list_loading": len(loading),
        "key_frame_loading_p95_ms": round(pct(loading, 0.95), 1) if loading else None,
        "key_frame_p50_ms": round(pct(all_keys, 0.5), 1),
        "key_frame_p95_ms": round(pct(all_keys, 0.95), 1),
        "key_frame_max_ms": round(max(all_keys), 1) if all_keys else None,
        "key_samples": len(all_keys),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--lines", type=int, default=25, help="changed lines per file")
    parser.add_argument("--keys", type=int, default=150)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "diff.json")
    args = parser.parse_args()
    term = libtmux.Server(socket_name=f"orchtui-diffterm-{uuid.uuid4().hex[:6]}")
    try:
        with world(1, "diffbench", populate=base_files) as w:
            result = measure(w, term, args.files, args.lines, args.keys)
    finally:
        if term.is_alive():
            term.kill()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    for key, value in result.items():
        print(f"{key:>28}  {value}")


if __name__ == "__main__":
    main()
