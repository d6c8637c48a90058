"""Stage timeouts, stuck agents, the event hook, waiting for capacity, project memory."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from helpers import Orch, wait_for
from test_runs import approve, playbook_copy, use_playbook_agents

HOOK = "import sys; open(sys.argv[1], 'a').write(sys.stdin.read() + chr(10))"


def hook_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    out = tmp_path / "hook.jsonl"
    argv = json.dumps([sys.executable, "-c", HOOK, str(out)])
    return {"ORCHTUI_EVENTS__HOOK": argv, "ORCHTUI_EVENTS__HOOK_SEVERITY": '"warning"'}, out


def hook_events(path: Path) -> list[dict[str, object]]:
    return (
        [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    )


def test_stage_timeout_pauses_and_reaches_the_hook(orch: Orch, tmp_path: Path) -> None:
    scenario = tmp_path / "slow.toml"
    scenario.write_text('[[rule]]\nmatch = "role sleeper"\nsteps = [{ work = 60 }]\n')
    book = tmp_path / "slow.yaml"
    book.write_text(
        "stages:\n  - id: slow\n    automation: fully_auto\n    timeout: 2\n    on_failure: stay\n"
        "    roles:\n      - {role: sleeper, agents: [scripted], prompt: sleep}\n"
    )
    env, out = hook_env(tmp_path)
    orch.env.update(
        {**env, "ORCHTUI_SCRIPTED_SCENARIO": str(scenario), "ORCHTUI_ENGINE__RECONCILE_INTERVAL": "0.5"}
    )
    orch.run("run", str(book), "--task", "sleepy")
    wait_for(lambda: orch.json("runs")[0]["state"] == "paused", timeout=30)
    run = orch.json("runs")[0]
    assert "timed out" in run["detail"]
    assert [r["state"] for r in orch.json("ledger") if r["actor"].startswith("run:")] == ["cancelled"]
    wait_for(lambda: any(e["kind"] == "stage.timeout" for e in hook_events(out)), timeout=10)
    event = next(e for e in hook_events(out) if e["kind"] == "stage.timeout")
    assert event["severity"] == "error" and event["data"]["run"] == run["id"]


def test_stuck_agent_is_reported_once(orch: Orch, tmp_path: Path) -> None:
    scenario = tmp_path / "hang.toml"
    scenario.write_text('[[rule]]\nmatch = "hang"\nsteps = [{ work = 0.3 }, { hang = 30 }]\n')
    env, out = hook_env(tmp_path)
    orch.env.update(
        {
            **env,
            "ORCHTUI_SCRIPTED_SCENARIO": str(scenario),
            "ORCHTUI_EVENTS__STUCK_AFTER": "1.5",
            "ORCHTUI_ENGINE__RECONCILE_INTERVAL": "0.5",
        }
    )
    sid = orch.new("hung")
    orch.wait_status(sid, "idle")
    orch.run("session", "send", sid, "hang please")
    wait_for(lambda: any(e["kind"] == "agent.stuck" for e in orch.json("events", sid)), timeout=20)
    assert orch.status(sid) == "working"
    wait_for(lambda: any(e["kind"] == "agent.stuck" for e in hook_events(out)), timeout=10)
    assert len([e for e in orch.json("events", sid) if e["kind"] == "agent.stuck"]) == 1


def test_stage_waits_for_capacity_then_runs(orch: Orch, tmp_path: Path) -> None:
    use_playbook_agents(orch)
    orch.env["ORCHTUI_LIMITS__PER_PROFILE"] = "{scripted = 1}"
    busy = orch.new("busy")
    book = tmp_path / "wait.yaml"
    book.write_text(
        "stages:\n  - id: plan\n    automation: fully_auto\n    wait_for_capacity: true\n"
        "    roles:\n      - {role: planner, agents: [scripted], prompt: plan it}\n"
        "    gates:\n      - {type: file_exists, path: PLAN.md}\n"
    )
    orch.run("run", str(book), "--task", "patient")
    wait_for(lambda: "waiting for capacity" in (orch.json("runs")[0]["detail"] or ""), timeout=20)
    assert orch.json("runs")[0]["state"] == "pending"
    orch.run("session", "kill", busy)
    wait_for(lambda: orch.json("runs")[0]["state"] == "done", timeout=40, interval=0.3)


def test_project_memory_is_written_indexed_and_given_to_later_roles(orch: Orch, tmp_path: Path) -> None:
    use_playbook_agents(orch)
    run_id = orch.run("run", str(playbook_copy(tmp_path)), "--task", "remember").stdout.strip()
    approve(orch, "build")
    approve(orch, "test", timeout=120)
    approve(orch, "merge", timeout=120)
    wait_for(lambda: orch.json("runs")[0]["state"] == "done", timeout=60, interval=0.3)
    folder = next((orch.home / "memory").glob(f"*/{run_id}"))
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["PLAN.md", "REVIEW.md", "build.md", "merge.md", "plan.md", "review.md", "test.md"]
    assert "## Goal" in (folder / "PLAN.md").read_text()
    assert (
        "command: fail" in (folder / "test.md").read_text()
        or "attempts: 2" in (folder / "test.md").read_text()
    )
    review_prompt = next(
        r["text"] for r in orch.json("ledger") if r["actor"].startswith(f"run:{run_id}:review:")
    )
    assert "# plan · run" in review_prompt and "## Goal" in review_prompt


def test_stage_restarts_an_agent_that_dies_and_asks_it_to_continue(orch: Orch, tmp_path: Path) -> None:
    scenario = tmp_path / "crashy.toml"
    scenario.write_text(
        '[[rule]]\nmatch = "crash"\nsteps = [{ work = 0.3 }, { say = "dying" }, { exit = 3 }]\n'
        '[[rule]]\nmatch = "carry on"\nsteps = [{ work = 0.3 }, { write = "DONE.txt", content = "ok" }]\n'
    )
    book = tmp_path / "crashy.yaml"
    book.write_text(
        "stages:\n  - id: build\n    automation: fully_auto\n    restart_agents: 1\n"
        "    roles:\n      - {role: builder, agents: [scripted], prompt: crash please}\n"
        "    gates:\n      - {type: file_exists, path: DONE.txt}\n"
    )
    orch.env["ORCHTUI_SCRIPTED_SCENARIO"] = str(scenario)
    orch.run("run", str(book), "--task", "crashy")
    try:
        wait_for(lambda: orch.json("runs")[0]["state"] == "done", timeout=60)
    except AssertionError:
        print(orch.json("runs"), [(e["kind"], e["message"]) for e in orch.json("events")])
        raise
    events = orch.json("events")
    restarted = [e for e in events if e["kind"] == "stage.agent_restarted"]
    assert len(restarted) == 1 and "exit code 3" in restarted[0]["message"]
    sid = restarted[0]["data"]["session"]
    rows = orch.json("ledger", sid)
    # the first prompt was delivered once (it failed when the agent died); then one "carry on"
    assert [r["state"] for r in rows] == ["failed", "done"]
    assert rows[0]["text"].count("crash please") == 1 and "carry on" in rows[1]["text"]


def test_a_runs_agents_take_pass_env_from_the_shell_that_started_the_run(orch: Orch, tmp_path: Path) -> None:
    """The engine started long before, from a shell without the variable: the run's agent
    still gets the value the `orchtui run` shell had (here the scripted agent's scenario,
    one of its profile's pass_env). The value crosses in a file only the user can read,
    gone once the engine read it; the store keeps the name only."""
    old = tmp_path / "old.toml"
    old.write_text('[[rule]]\nmatch = ""\nsteps = [{ work = 0.2 }, { say = "old scenario" }]\n')
    new = tmp_path / "new.toml"
    new.write_text(
        '[[rule]]\nmatch = ""\n'
        'steps = [{ work = 0.2 }, { write = "proof.txt", content = "new scenario\\n" }]\n'
    )
    orch.run("engine", "start", env={"ORCHTUI_SCRIPTED_SCENARIO": str(old)})
    book = tmp_path / "env.yaml"
    book.write_text(
        "name: env\nstages:\n  - id: build\n    automation: fully_auto\n"
        "    roles:\n      - {role: worker, agents: [scripted], prompt: work}\n"
        "    gates:\n      - {type: file_exists, path: proof.txt}\n"
    )
    run_id = orch.run(
        "run", str(book), "--task", "envy", env={"ORCHTUI_SCRIPTED_SCENARIO": str(new)}
    ).stdout.split()[0]
    wait_for(lambda: orch.json("runs")[0]["state"] in ("done", "paused"), timeout=60, interval=0.3)
    assert orch.json("runs")[0]["state"] == "done", orch.json("runs")[0]
    assert orch.json("runs")[0]["env_names"] == ["ORCHTUI_SCRIPTED_SCENARIO"]  # names, never values
    assert not [a for a in orch.json("artifact", "list", run_id) if a["name"].startswith("env")]
    assert not list((orch.home / "run").glob("env-*.json")), "the handed-over values stay on disk"
    for db in orch.home.glob("orchtui.db*"):  # with its write-ahead log
        assert str(new).encode() not in db.read_bytes(), db


def test_project_memory_outlives_a_run_and_reaches_the_next_runs_prompts(orch: Orch, tmp_path: Path) -> None:
    """An agent of the first run records a decision (`$ORCHTUI_MEMORY`), the run ends with
    a summary in the project's journal, a person adds a note with a secret in it (masked);
    the second run's prompt gets all of it through {memory}, and `orchtui memory` shows and
    searches it."""
    record = (
        "import os, subprocess; subprocess.run([os.environ['ORCHTUI_MEMORY'], '--kind', 'decision', "
        "'use sqlite for the cache'], check=True)"
    )
    scenario = tmp_path / "decide.toml"
    scenario.write_text(
        f'[[rule]]\nmatch = "decide"\n'
        f"steps = [{{ work = 0.2 }}, {{ run = {json.dumps([sys.executable, '-c', record])} }}]\n"
        '[[rule]]\nmatch = ""\nsteps = [{ work = 0.2 }, { say = "ok" }]\n'
    )
    orch.env["ORCHTUI_SCRIPTED_SCENARIO"] = str(scenario)
    book = tmp_path / "mem.yaml"
    book.write_text(
        "name: mem\nmemory_budget: 3000\nstages:\n  - id: work\n    automation: fully_auto\n"
        "    roles:\n      - {role: worker, agents: [scripted], prompt: '{memory} -- decide'}\n"
    )
    first = orch.run("run", str(book), "--task", "first").stdout.split()[0]
    wait_for(lambda: orch.json("runs")[0]["state"] == "done", timeout=60, interval=0.3)
    orch.run(
        "memory",
        "add",
        "--kind",
        "note",
        "the key was sk-ant-api03-Zx9kQ2vB7nM4pL8rT1wY6uE3oI5aS0dF-gH2jK4lZ",
    )
    entries = orch.json("memory", "show")
    assert [e["kind"] for e in entries] == ["decision", "summary", "note"], entries
    assert entries[0]["run"] == first and entries[0]["who"].startswith("agent:")
    assert f"run {first} (mem) for first: done" in entries[1]["text"]
    journal = next((orch.home / "memory").glob("*/journal.jsonl"))
    assert "sk-ant-api03-Zx9k" not in journal.read_text()
    assert [e["kind"] for e in orch.json("memory", "search", "SQLITE cache")] == ["decision"]

    second = orch.run("run", str(book), "--task", "second").stdout.split()[0]
    wait_for(lambda: all(r["state"] == "done" for r in orch.json("runs")), timeout=60, interval=0.3)
    prompt = next(r["text"] for r in orch.json("ledger") if r["actor"].startswith(f"run:{second}:"))
    assert "use sqlite for the cache" in prompt and f"run {first} (mem) for first: done" in prompt
    assert "sk-ant-api03-Zx9k" not in prompt


def test_on_failure_fail_ends_the_run_failed_and_stops_its_agents(orch: Orch, tmp_path: Path) -> None:
    book = tmp_path / "fail.yaml"
    book.write_text(
        "name: fail\nstages:\n  - id: build\n    automation: fully_auto\n    on_failure: fail\n"
        "    roles:\n      - {role: worker, agents: [scripted], prompt: work}\n"
        "    gates:\n      - {type: file_exists, path: never.txt}\n"
    )
    done = orch.run("run", str(book), "--task", "doomed", "--headless", "--timeout", "120", check=False)
    assert done.returncode == 1, done.stderr
    run = orch.json("runs")[0]
    assert run["state"] == "failed" and "never.txt" in run["detail"], run
    wait_for(lambda: not orch.json("session", "list"), timeout=30)  # its agent stopped
    session = orch.json("session", "list", "--all")[0]
    assert Path(session["worktree"]).is_dir(), "a failed run keeps its worktree"
    assert any(e["kind"] == "summary" and "failed" in e["text"] for e in orch.json("memory", "show"))
