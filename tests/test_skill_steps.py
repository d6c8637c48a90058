"""Skills as playbook steps: parallel skills with timeouts and retries, a result and an
event for each, the step's outcome per its policy; scripts get a limited environment and
their context values as data; an agent-mode skill reaches the agent as its prompt."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import Orch, wait_for

SKILLS = {
    "write-note": (
        "script: run.sh\nwrites: true\n",  # it writes files: it says so
        "#!/bin/sh\nprintf '%s\\n' \"$ORCHTUI_PARAM_NOTE\" > note.txt\nenv > seen-env.txt\ncat > stdin.json\n"
        'echo "wrote note.txt"\n',
    ),
    "slow": ("script: run.sh\n", "#!/bin/sh\nsleep 30\n"),
    "greet": ("", None),  # instructions only: run by an agent
}

PLAYBOOK = """
name: steps
stages:
  - id: build
    automation: fully_auto
    roles: [{{role: dev, agents: [scripted], prompt: "hello"}}]
  - id: checks
    automation: fully_auto
    on_failure: stay
    steps:
      - id: together
        policy: {policy}
        skills:
          - {{skill: write-note, params: {{note: "$(touch pwned); echo hi"}}}}
          - {{skill: slow, timeout: 1, retries: 1}}
          - {{skill: greet, agent: scripted, params: {{who: world}}}}
"""


def install_skills(orch: Orch) -> None:
    """The project's own skills, trusted (their scripts) and vetted (a fully_auto stage)."""
    for name, (extra, script) in SKILLS.items():
        folder = orch.repo / ".orchtui" / "skills" / name
        folder.mkdir(parents=True)
        front = f"---\nname: {name}\ndescription: {name} for the tests.\ntrust: vetted\n{extra}---\n"
        (folder / "SKILL.md").write_text(f"{front}# {name}\n\nSay hi.\n")
        if script is not None:
            (folder / "run.sh").write_text(script)
            (folder / "run.sh").chmod(0o755)
    orch.run("trust")
    for name in SKILLS:
        orch.run("skills", "vet", name)


def events(orch: Orch, run_id: str, kind: str) -> list[dict[str, object]]:
    return [e for e in orch.json("events") if e["kind"] == kind and e["data"].get("run") == run_id]


def test_parallel_skills_with_a_timeout_all_policy_fails_the_step(orch: Orch, tmp_path: Path) -> None:
    install_skills(orch)
    book = tmp_path / "steps.yaml"
    book.write_text(PLAYBOOK.format(policy="all"))
    secret = {"ANTHROPIC_API_KEY": "sk-ant-test-secret-value"}
    run_id = orch.run("run", str(book), "--task", "steps-all", env=secret).stdout.strip()
    run = wait_for(
        lambda: (r := orch.json("runs")[0]) and r["state"] == "paused" and r, timeout=90, interval=0.3
    )
    assert "step together (all): write-note ok, slow timed out, greet ok" in run["detail"]
    completed = events(orch, run_id, "skill.completed")
    timed_out = events(orch, run_id, "skill.timed_out")
    assert sorted(e["data"]["skill"] for e in completed) == ["greet", "write-note"]
    assert [(e["data"]["skill"], e["data"]["attempt"]) for e in timed_out] == [("slow", 1), ("slow", 2)]
    assert all(float(e["data"]["duration"]) < 5 for e in timed_out)  # killed at the timeout
    note = next(e for e in completed if e["data"]["skill"] == "write-note")
    assert set(note["data"]["files"]) >= {"note.txt", "seen-env.txt", "stdin.json"}
    worktree = Path(next(s for s in orch.json("session", "list", "--all") if s["role"] == "dev")["worktree"])
    assert (worktree / "note.txt").read_text() == "$(touch pwned); echo hi\n"  # data, never a shell
    assert not (worktree / "pwned").exists()
    seen = (worktree / "seen-env.txt").read_text()
    assert (
        "ORCHTUI_PARAM_NOTE=" in seen and "sk-ant-test-secret-value" not in seen and "ANTHROPIC" not in seen
    )
    assert json.loads((worktree / "stdin.json").read_text()) == {"note": "$(touch pwned); echo hi"}
    greet = [r for r in orch.ledger_rows() if r.actor.startswith(f"skill:{run_id}:")]
    assert len(greet) == 1 and greet[0].text.startswith("# greet\n\nSay hi.")  # the instructions
    assert '"who": "world"' in greet[0].text
    results = orch.json("events")  # the step's gate result carries every skill's result
    assert any(e["kind"] == "gate.fail" and "step together" in e["message"] for e in results)


def test_any_policy_passes_with_one_skill_timed_out(orch: Orch, tmp_path: Path) -> None:
    install_skills(orch)
    book = tmp_path / "steps.yaml"
    book.write_text(PLAYBOOK.format(policy="any"))
    run_id = orch.run("run", str(book), "--task", "steps-any").stdout.strip()
    wait_for(lambda: orch.json("runs")[0]["state"] == "done", timeout=90, interval=0.3)
    assert len(events(orch, run_id, "skill.timed_out")) == 2
    assert len(events(orch, run_id, "skill.completed")) == 2


def test_a_step_skill_without_script_or_agent_is_refused(orch: Orch, tmp_path: Path) -> None:
    install_skills(orch)
    book = tmp_path / "bad.yaml"
    book.write_text(PLAYBOOK.format(policy="all").replace("greet, agent: scripted,", "greet,"))
    proc = orch.run("run", str(book), "--task", "nope", check=False)
    assert proc.returncode == 2 and proc.stderr.strip() == (
        f"orchtui: error: {book}: stages.1.steps.0.skills.2.skill: 'greet' has no script; "
        "name an `agent` to run its instructions"
    )
    bad_key = PLAYBOOK.format(policy="all").replace("{note:", "{'not ok':")
    book.write_text(bad_key)
    proc = orch.run("run", str(book), "--task", "nope", check=False)
    assert proc.returncode == 2 and "stages.1.steps.0.skills.0.params" in proc.stderr
    assert "is not an identifier" in proc.stderr


def test_a_script_is_read_only_unless_it_says_so_and_never_runs_outside_a_worktree(
    orch: Orch, tmp_path: Path
) -> None:
    """A script that changes the worktree without `writes: true` fails its step, saying
    so; a step in a stage with no worktree yet runs nothing (never in the main checkout)."""
    SKILLS["sneaky"] = ("script: run.sh\n", "#!/bin/sh\necho changed > sneaky.txt\n")
    try:
        install_skills(orch)
    finally:
        del SKILLS["sneaky"]
    book = tmp_path / "sneaky.yaml"
    book.write_text(
        PLAYBOOK.format(policy="any").split("    steps:")[0]
        + "    steps:\n      - id: quiet\n        skills:\n          - {skill: sneaky}\n"
    )
    run_id = orch.run("run", str(book), "--task", "sneaky").stdout.strip()
    wait_for(lambda: orch.json("runs")[0]["state"] == "paused", timeout=90, interval=0.3)
    failed = events(orch, run_id, "skill.failed")
    assert failed and "changed sneaky.txt, but its SKILL.md does not declare `writes: true`" in str(
        failed[0]["message"]
    )

    first = tmp_path / "first.yaml"  # a step in the first stage, no role: no worktree exists
    first.write_text(
        "name: first\nstages:\n  - id: checks\n    automation: fully_auto\n"
        "    steps:\n      - id: early\n        skills:\n          - {skill: write-note}\n"
    )
    early = orch.run("run", str(first), "--task", "early").stdout.strip()

    def state() -> str:
        return str(next(r for r in orch.json("runs") if r["id"] == early)["state"])

    wait_for(lambda: state() == "paused", timeout=60, interval=0.3)
    said = [e["message"] for e in events(orch, early, "skill.failed")]
    assert said and "runs only in the run's worktree" in str(said[0])
    assert not (orch.repo / "note.txt").exists()  # nothing ran in the main checkout
