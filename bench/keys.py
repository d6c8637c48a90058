"""Each dashboard key: the time from pressing it to the screen showing its effect.

Runs `orchtui` as a user does, in a real terminal (a 160x45 tmux pane on a separate
server) over N scripted sessions at their prompt (default 8). For each key it reads the
pane, presses the key, and reads the pane every 5 ms until it differs (the time is the
key's); then undoes it (Esc, the key again, …) and waits for the screen to settle
before the next try. Reports the median and the worst of `--tries` presses per key, in
milliseconds, in the order of the keys table (ui/keys.py). Keys that need a run
(y, x, o, m, p, G, C) or change the world (f, R, E with ended sessions) are left out.

    .venv/bin/python bench/keys.py --sessions 8 --tries 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import libtmux

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))
from world import world  # noqa: E402

from orchtui.ui.keys import KEYS  # noqa: E402

# key as tmux sends it, what undoes it, and what the screen shows once it took effect
PRESSES: dict[str, tuple[str, list[str]]] = {
    "n": ("n", ["Escape"]),
    "s": ("s", ["Escape"]),
    "u": ("u", ["Escape"]),
    "t": ("t", ["C-q"]),
    "w": ("w", []),
    "k": ("k", ["n"]),
    "A": ("A", ["A"]),
    "v": ("v", ["Escape"]),
    "S": ("S", ["Escape"]),
    "slash": ("/", ["Escape"]),
    "question_mark": ("?", ["Escape"]),
}
EXTRA = [("Down", "select the next session", ["Up"]), ("C-p", "command palette", ["Escape"])]


def screen(term: libtmux.Server) -> str:
    return "\n".join(term.cmd("capture-pane", "-p", "-t", "dash").stdout)


def settle(term: libtmux.Server, quiet: float = 0.6, limit: float = 15.0) -> str:
    """The screen once it has not changed for `quiet` seconds."""
    end = time.monotonic() + limit
    last, since = screen(term), time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.05)
        now = screen(term)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return last


def press(term: libtmux.Server, key: str, undo: list[str]) -> float | None:
    before = settle(term)
    start = time.monotonic()
    term.cmd("send-keys", "-t", "dash", key)
    took = None
    while time.monotonic() - start < 10:
        if screen(term) != before:
            took = (time.monotonic() - start) * 1000
            break
        time.sleep(0.005)
    for k in undo:
        settle(term, quiet=0.3)
        term.cmd("send-keys", "-t", "dash", k)
    return took


def run(n: int, tries: int) -> dict[str, Any]:
    term = libtmux.Server(socket_name=f"orchtui-kterm-{uuid.uuid4().hex[:6]}")
    try:
        with world(n, "kbench") as w:
            keys = ["ORCHTUI_HOME", "ORCHTUI_TMUX_SOCKET", "ORCHTUI_SCRIPTED_SCENARIO", "PATH", "HOME"]
            env = [arg for key in keys for arg in ("-e", f"{key}={os.environ[key]}")]
            term.cmd(
                "new-session", "-d", "-s", "dash", "-x", "160", "-y", "45", "-c", str(w.repo), *env,
                "-e", "TERM=xterm-256color", sys.executable, "-m", "orchtui",
            )  # fmt: skip
            end = time.monotonic() + 60
            while w.ids[0] not in screen(term) and time.monotonic() < end:
                time.sleep(0.1)
            time.sleep(3.0)  # the first refreshes, git facts and the engine check are done
            rows: list[dict[str, Any]] = []
            plan = [(k.key, k.name, k.what, *PRESSES[k.key]) for k in KEYS if k.key in PRESSES]
            plan += [(key, what, what, key, undo) for key, what, undo in EXTRA]
            for key, name, what, sent, undo in plan:
                times = [t for t in (press(term, sent, undo) for _ in range(tries)) if t is not None]
                rows.append(
                    {
                        "key": key,
                        "name": name,
                        "what": what,
                        "median_ms": round(statistics.median(times)) if times else None,
                        "max_ms": round(max(times)) if times else None,
                        "tries": len(times),
                    }
                )
                print(f"{key:>14}  {name:<14} {rows[-1]['median_ms']!s:>5} ms (max {rows[-1]['max_ms']})")
            term.cmd("send-keys", "-t", "dash", "q")
            return {"sessions": n, "terminal": "160x45", "keys": rows}
    finally:
        if term.is_alive():
            term.kill()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--tries", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "keys.json")
    args = parser.parse_args()
    result = run(args.sessions, args.tries)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
