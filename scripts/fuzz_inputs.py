"""Fuzz every kind of file orchtui reads: config, playbooks, agent profiles, SKILL.md and
themes. Each generated file is loaded as orchtui loads it; the outcome is what the CLI
would return (0, or the exit code of the one-line error) or a traceback (a bug). A
sample also goes through the real CLI (`orchtui doctor`, `plan`, `skills list`).

    .venv/bin/python scripts/fuzz_inputs.py --files 10000 --cli 100

Prints the exit codes seen, the tracebacks (must be 0), exit 70s (must be 0) and the
slowest case.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from orchtui.cli.main import store_fault
from orchtui.config import load_config
from orchtui.errors import OrchtuiError
from orchtui.playbook import load_playbook
from orchtui.profiles import _load_file
from orchtui.skills import parse
from orchtui.ui.theme import load_theme

SEEDS = {
    "config": '[engine]\nreconcile_interval = 2\n[worktrees]\nbranch_prefix = "orchtui/"\n',
    "playbook": (
        "name: p\nstages:\n  - id: build\n    automation: fully_auto\n    roles:\n"
        "      - {role: r, agents: [scripted], prompt: hi}\n    gates:\n      - {type: command, run: true}\n"
    ),
    "profile": 'command = ["{python}", "-c", "print(1)"]\n[[patterns]]\nstate = "idle"\nregex = "> $"\n',
    "skill": "---\nname: fz\ndescription: d\nversion: 1.0.0\ntrust: vetted\n---\n# body\n",
    "theme": 'name = "t"\n[colors]\nprimary = "#112233"\n',
}
NASTY = [
    b"\xff",
    b"\x00",
    b"\xef\xbb\xbf",
    b"[" * 5000,
    b"{" * 5000,
    b"- " * 5000,
    b"&a [*a, *a]",
    b"!!python/object:os.system",
    b"\n---\n",
    b'"\\u0000"',
    b"1e99999",
    b"\t",
    "é日本\u202e".encode(),
    b"a" * 300_000,
]


def mutate(seed: bytes, rng: random.Random) -> bytes:
    data = bytearray(seed)
    for _ in range(rng.randint(1, 6)):
        op = rng.random()
        at = rng.randint(0, len(data))
        if op < 0.3:
            data[at:at] = rng.choice(NASTY)
        elif op < 0.55 and data:
            del data[at : at + rng.randint(1, 20)]
        elif op < 0.8:
            data[at:at] = bytes(rng.randint(0, 255) for _ in range(rng.randint(1, 8)))
        else:
            data[at:at] = data[: rng.randint(0, len(data))]  # repeat a piece
    return bytes(data)


def loader(kind: str, path: Path) -> Callable[[], object]:
    if kind == "config":

        def config() -> object:
            os.environ["ORCHTUI_HOME"] = str(path.parent)  # its config.toml is the user file
            return load_config(path.parent, {"ORCHTUI_HOME": str(path.parent)})

        return config
    if kind == "playbook":
        return lambda: load_playbook(path, {"scripted"})
    if kind == "profile":
        return lambda: _load_file(path)
    if kind == "skill":
        return lambda: parse(path, "project")
    return lambda: load_theme(path.stem, path.parent)


NAMES = {
    "config": "config.toml",
    "playbook": "p.yaml",
    "profile": "p.toml",
    "skill": "fz/SKILL.md",
    "theme": "t.toml",
}


def outcome(run: Callable[[], object]) -> tuple[int, str]:
    try:
        run()
    except OrchtuiError as exc:
        return exc.exit_code, ""
    except ValueError as exc:  # a broken SKILL.md: listed as a problem, the others go on
        return 2, "" if "\n" not in str(exc) else "multi-line skill error"
    except Exception as exc:
        fault = store_fault(exc)
        if fault is not None:
            return fault.exit_code, ""
        return 70, traceback.format_exc(limit=3)
    return 0, ""


def run_cli(kind: str, path: Path, repo: Path) -> int:
    env = {**os.environ, "ORCHTUI_HOME": str(path.parent), "ORCHTUI_NO_WARM": "1"}
    args = {
        "config": ["doctor"],
        "playbook": ["plan", str(path), "--task", "t"],
        "profile": ["doctor"],
        "skill": ["skills", "list"],
        "theme": ["doctor"],
    }[kind]
    if kind == "profile":
        env["ORCHTUI_PROFILE_DIRS"] = f'["{path.parent}"]'
    proc = subprocess.run(
        [sys.executable, "-m", "orchtui", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if "Traceback" in proc.stderr:
        return -1
    return proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--cli", type=int, default=100, help="how many also go through the real CLI")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    codes: collections.Counter[int] = collections.Counter()
    per_kind: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    tracebacks: list[str] = []
    slowest = (0.0, "")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        repo = root / "repo"
        repo.mkdir()
        subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
        for i in range(args.files):
            kind = list(SEEDS)[i % len(SEEDS)]
            folder = root / f"f{i}"
            path = folder / NAMES[kind]
            path.parent.mkdir(parents=True)
            path.write_bytes(mutate(SEEDS[kind].encode(), rng))
            started = time.perf_counter()
            code, trace = outcome(loader(kind, path))
            took = time.perf_counter() - started
            if took > slowest[0]:
                slowest = (took, f"{kind} {path.stat().st_size} bytes")
            codes[code] += 1
            per_kind[kind][code] += 1
            if trace:
                tracebacks.append(f"{kind} {path}: {trace}")
        cli_codes: collections.Counter[int] = collections.Counter()
        for i in range(min(args.cli, args.files)):
            kind = list(SEEDS)[i % len(SEEDS)]
            cli_codes[run_cli(kind, root / f"f{i}" / NAMES[kind], repo)] += 1
    print(f"files: {args.files} ({', '.join(SEEDS)})")
    print(f"exit codes (in-process): {dict(sorted(codes.items()))}")
    for kind, counter in per_kind.items():
        print(f"  {kind:9} {dict(sorted(counter.items()))}")
    print(f"exit codes (real CLI, {sum(cli_codes.values())} files): {dict(sorted(cli_codes.items()))}")
    print(f"tracebacks: {len(tracebacks) + cli_codes[-1]}")
    print(f"exit 70: {codes[70] + cli_codes[70]}")
    print(f"slowest: {slowest[0] * 1000:.0f} ms ({slowest[1]})")
    for trace in tracebacks[:5]:
        print(trace)
    return 1 if tracebacks or codes[70] or cli_codes[70] or cli_codes[-1] else 0


if __name__ == "__main__":
    sys.exit(main())
