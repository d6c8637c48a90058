"""Races (playbook `race:`) with scripted agents in real tmux: each entry is its own
profile (the scripted agent with its own scenario), so the entries really behave apart:
one quick, one slow, one that never finishes."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from helpers import Orch, git, wait_for

SCRIPTED = (Path(__file__).parents[1] / "src" / "orchtui" / "profiles" / "scripted.toml").read_text()


def racers(orch: Orch, tmp_path: Path, **scenarios: str) -> None:
    """A profile `racer-<name>` per scenario: the scripted agent reading that scenario."""
    profiles = orch.home / "profiles"
    profiles.mkdir(parents=True, exist_ok=True)
    for name, rules in scenarios.items():
        scenario = tmp_path / f"racer-{name}.toml"
        scenario.write_text(f'name = "racer-{name}"\n{rules}')
        text = SCRIPTED.replace('name = "scripted"', f'name = "racer-{name}"').replace(
            '"--transcript",', f'"--scenario", "{scenario}", "--transcript",'
        )
        (profiles / f"racer-{name}.toml").write_text(text)


def steps(*parts: str) -> str:
    return f"[[rule]]\nsteps = [{', '.join(parts)}]\n"


def work(seconds: float) -> str:
    return f"{{ work = {seconds} }}"


def write(path: str, content: str) -> str:
    return f'{{ write = "{path}", content = "{content}\\n" }}, {{ commit = "{path}" }}'


def playbook(tmp_path: Path, race: str, gates: str, count: int = 3) -> Path:
    book = tmp_path / "race.yaml"
    book.write_text(
        "name: race\nstages:\n"
        "  - id: build\n"
        "    automation: fully_auto\n"
        f"    race: {race}\n"
        '    roles: [{role: dev, agents: [racer-a], prompt: "build {task}"}]\n'
        f"    gates: {gates}\n"
    )
    return book


def scored_race(orch: Orch, tmp_path: Path, pick: str, task: str, works: tuple[float, float]) -> str:
    """Two entries, racer-a writing score=5 after works[0] seconds and racer-b score=9 after
    works[1]; a command gate reads the score. The run's id."""
    racers(
        orch,
        tmp_path,
        a=steps(work(works[0]), write("score.txt", "score=5")),
        b=steps(work(works[1]), write("score.txt", "score=9")),
    )
    book = playbook(
        tmp_path,
        f"{{count: 2, agents: [racer-a, racer-b], pick: {pick}, weights: {{score: 1.0}}}}",
        "[{type: command, run: 'cat score.txt', metrics: {score: 'score=(\\d+)'}}]",
    )
    return str(orch.run("run", str(book), "--task", task).stdout.split()[0])


def the_run(orch: Orch, run_id: str) -> dict[str, Any]:
    return next(r for r in orch.json("runs") if r["id"] == run_id)


def finished(orch: Orch, run_id: str, timeout: float = 180) -> dict[str, Any]:
    try:
        wait_for(
            lambda: the_run(orch, run_id)["state"] in ("done", "paused", "failed"), timeout, interval=0.3
        )
    except AssertionError:
        pass
    run = the_run(orch, run_id)
    if run["state"] != "done":
        events = [(e["kind"], e["message"]) for e in orch.json("events")][-20:]
        raise AssertionError(json.dumps({"run": run, "events": events}, indent=1))
    return run


def race_of(orch: Orch, run_id: str) -> dict[str, Any]:
    """The run's race as `orchtui race show` has it ({} before its entries are made)."""
    races = orch.json("race", "show", run_id)
    assert len(races) <= 1, races
    return dict(races[0]) if races else {}


def prompts_received(orch: Orch, session_id: str) -> list[str]:
    return [e["text"] for e in orch.transcript(session_id) if e["type"] == "prompt"]


def test_first_pass_the_second_entry_passes_first_and_wins_the_others_stop_their_branches_kept(
    orch: Orch, tmp_path: Path
) -> None:
    racers(
        orch,
        tmp_path,
        a=steps(work(8), write("result.txt", "from a")),
        b=steps(work(0.5), write("result.txt", "from b")),
        c=steps('{ write = "scratch.txt", content = "unsaved" }', work(120), write("result.txt", "from c")),
    )
    book = playbook(
        tmp_path,
        "{count: 3, agents: [racer-a, racer-b, racer-c], pick: first_pass}",
        "[{type: file_exists, path: result.txt}]",
    )
    run_id = orch.run("run", str(book), "--task", "quick").stdout.split()[0]
    most = 0

    def over() -> bool:
        nonlocal most
        most = max(most, len(orch.json("session", "list")))  # live sessions: the three entries at most
        return the_run(orch, run_id)["state"] in ("done", "paused", "failed")

    wait_for(over, timeout=180, interval=0.3)
    finished(orch, run_id)
    assert most <= 3
    race = race_of(orch, run_id)
    entries = {e["number"]: e for e in race["entries"]}
    assert [entries[n]["agent"] for n in (1, 2, 3)] == ["racer-a", "racer-b", "racer-c"]
    assert entries[2]["result"] == "won" and entries[2]["state"] == "passed"
    assert entries[1]["result"] == entries[3]["result"] == "lost"
    assert entries[1]["state"] == entries[3]["state"] == "stopped", entries  # stopped before they finished
    assert git(orch.repo, "show", "orchtui/quick:result.txt").strip() == "from b"
    for number, entry in entries.items():  # every branch kept under its ref
        assert entry["kept_ref"] == f"refs/orchtui/races/{run_id}/build-1-{number}"
        git(orch.repo, "rev-parse", "--verify", entry["kept_ref"])
    # worktrees with nothing unsaved are removed; c's holds an uncommitted file: kept, with its branch
    assert not Path(entries[1]["worktree"]).exists() and not Path(entries[2]["worktree"]).exists()
    assert (Path(entries[3]["worktree"]) / "scratch.txt").read_text() == "unsaved"
    assert entries[3]["branch"] in git(orch.repo, "branch", "--list", entries[3]["branch"])
    assert "from b" in git(orch.repo, "show", f"{entries[2]['kept_ref']}:result.txt")
    for entry in entries.values():  # one prompt each, and the losers' agents were stopped
        assert prompts_received(orch, entry["session_id"]) == [
            prompts_received(orch, entries[2]["session_id"])[0]
        ]
        assert orch.show(entry["session_id"])["status"] == "killed"
    kinds = [e["kind"] for e in orch.json("events") if e["kind"].startswith("race.")]
    assert kinds[0] == "race.started" and "race.won" in kinds


def test_best_score_waits_for_both_and_the_higher_metric_wins(orch: Orch, tmp_path: Path) -> None:
    run_id = scored_race(orch, tmp_path, "best_score", "scored", (0.3, 3.0))
    finished(orch, run_id)
    entries = {e["number"]: e for e in race_of(orch, run_id)["entries"]}
    assert entries[1]["state"] == entries[2]["state"] == "passed"
    assert (entries[1]["score"], entries[2]["score"]) == (5.0, 9.0)
    assert entries[2]["result"] == "won" and entries[1]["result"] == "lost"
    assert git(orch.repo, "show", "orchtui/scored:score.txt").strip() == "score=9"
    gates = entries[1]["gates"]
    assert [(g["type"], g["state"]) for g in gates] == [("command", "pass")]
    assert "score=5" in gates[0]["evidence"]
    reported = orch.json("report")["runs"][run_id]["races"]  # cost and time per entry
    assert [(r["entry"], r["agent"], r["result"]) for r in reported] == [
        (1, "racer-a", "lost"),
        (2, "racer-b", "won"),
    ]
    assert all(r["seconds"] > 0 and r["cost"] >= 0 for r in reported)
    assert reported[1]["seconds"] > reported[0]["seconds"]  # b worked 3 s, a 0.3 s
    assert "racer-b" in orch.run("report").stdout


def test_operator_pick_through_the_cli_takes_the_entry_picked(orch: Orch, tmp_path: Path) -> None:
    run_id = scored_race(orch, tmp_path, "operator", "chosen", (0.3, 0.6))
    wait_for(lambda: race_of(orch, run_id).get("awaiting_pick"), timeout=120, interval=0.3)
    assert the_run(orch, run_id)["state"] == "running"
    time.sleep(1.0)  # nothing decides by itself
    assert not race_of(orch, run_id)["decided"]
    shown = orch.run("race", "show", run_id).stdout
    assert "pick an entry" in shown and "racer-a" in shown and "racer-b" in shown
    wrong = orch.run("race", "pick", run_id, "7", check=False)
    assert wrong.returncode != 0 and "entries 1 to 2, not 7" in wrong.stderr
    orch.run("race", "pick", run_id, "1")  # the lower score: the operator's word stands
    finished(orch, run_id)
    entries = {e["number"]: e for e in race_of(orch, run_id)["entries"]}
    assert entries[1]["result"] == "won" and entries[1]["picked"] and entries[2]["result"] == "lost"
    assert git(orch.repo, "show", "orchtui/chosen:score.txt").strip() == "score=5"
    again = orch.run("race", "pick", run_id, "2", check=False)
    assert again.returncode != 0 and "nothing to pick" in again.stderr


def test_an_engine_killed_mid_race_carries_on_without_sending_any_prompt_again(
    orch: Orch, tmp_path: Path
) -> None:
    run_id = scored_race(orch, tmp_path, "best_score", "survive", (6.0, 7.0))

    def both_working() -> bool:
        rows = [r for r in orch.ledger_rows() if r.actor.startswith(f"run:{run_id}:")]
        return len(rows) == 2 and all(r.state in ("delivered", "running") for r in rows)

    wait_for(both_working, timeout=120, interval=0.2)
    pid = orch.engine_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: orch.engine_pid() is None, timeout=30)
    orch.run("engine", "start")
    finished(orch, run_id)
    entries = {e["number"]: e for e in race_of(orch, run_id)["entries"]}
    assert entries[2]["result"] == "won" and entries[1]["result"] == "lost"
    rows = [r for r in orch.ledger_rows() if r.actor.startswith(f"run:{run_id}:")]
    assert len(rows) == 2 and {r.state for r in rows} == {"done"}, rows
    for entry in entries.values():
        assert len(prompts_received(orch, entry["session_id"])) == 1


def test_a_race_that_does_not_fit_the_capacity_starts_no_entry(orch: Orch, tmp_path: Path) -> None:
    orch.home.mkdir(parents=True, exist_ok=True)
    (orch.home / "config.toml").write_text("[limits]\nmax_sessions = 2\n")
    racers(orch, tmp_path, a=steps(work(0.3), write("r.txt", "a")))
    book = playbook(tmp_path, "{count: 3, agents: [racer-a], pick: first_pass}", "[]")
    run_id = orch.run("run", str(book), "--task", "crowded").stdout.split()[0]
    wait_for(lambda: the_run(orch, run_id)["state"] == "paused", timeout=60, interval=0.3)
    detail = the_run(orch, run_id)["detail"]
    assert "limits.max_sessions=2" in detail and "all 3 run at once" in detail, detail
    assert orch.json("session", "list") == []
