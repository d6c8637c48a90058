"""A deterministic dashboard world for snapshot tests: a real SQLite store, a real git
repository with real worktrees, fixed ids, timestamps and log files; no clock, no
random ids on screen. No tmux: sessions have no live pane, so the output view shows
each session's log."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers import git, init_repo
from orchtui.config import load_config
from orchtui.domain import CommandKind, CommandState, WorktreeState
from orchtui.runtime.git import GitRepo
from orchtui.services.context import Context
from orchtui.store.tables import AgentSession, Usage, Worktree

BASE = 1_800_000_000.0
NOW = BASE + 754.0
SCREENS = Path(__file__).parent / "fixtures" / "screens"

SESSIONS = [
    # id, agent, task, status, exit code, screen fixture
    ("a1b2c3", "scripted", "add-tests", "idle", None, None),
    ("d4e5f6", "claude", "fix-login", "working", None, SCREENS / "claude" / "04_working_later.txt"),
    ("0a0b0c", "codex", "refactor-db", "waiting", None, SCREENS / "codex" / "06_approval.txt"),
    ("9f8e7d", "aider", "write-docs", "exited", 1, SCREENS / "aider" / "06_api_error.txt"),
]

MODELS = ["scripted-1", "claude-sonnet-4-5", "gpt-5-codex", "openai/fake"]

SCRIPTED_LOG = (
    "Scripted agent · scenario basic · conversation 000000000000\r\n"
    "Type a prompt and press Enter. Ctrl-D quits.\r\n\r\n"
    "» Write tests for greet()\r\n"
    "\x1b[32m● Wrote tests/test_greet.py\x1b[0m\r\n"
    "● Commit made: Add a test for greet\r\n"
    "✔ Done.\r\nTokens: 2400 in, 600 out · session 3000\r\n» "
)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Context:
    repo = init_repo(tmp_path / "project")

    bin_dir = tmp_path / "bin"  # only git on PATH: no agent CLI looks installed
    bin_dir.mkdir()
    os.symlink(shutil.which("git") or "/usr/bin/git", bin_dir / "git")
    monkeypatch.setenv("PATH", str(bin_dir))
    home = tmp_path / "home"
    for key in [k for k in os.environ if k.startswith("ORCHTUI_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("ORCHTUI_HOME", str(home))
    monkeypatch.setenv("ORCHTUI_TMUX_SOCKET", f"orchtui-snap-{os.getpid()}")
    monkeypatch.chdir(repo)
    ctx = Context(load_config(repo))
    records, ledger, state = ctx.records, ctx.ledger, ctx.config.state
    project = records.project_for(str(repo), "project", "orchtui-project")
    assert project.id is not None
    git_repo = GitRepo(repo)
    for index, (sid, agent, task, status, code, screen) in enumerate(SESSIONS):
        path = tmp_path / "worktrees" / task
        git_repo.create_worktree(path, f"orchtui/{task}", "main")
        if index == 0:
            (path / "test_greet.py").write_text("def test_greet():\n    pass\n")
            git(path, "add", ".")
            git(path, "commit", "-q", "-m", "Add a test for greet")
        if index == 1:
            (path / "login.py").write_text("# in progress\n")
        wt = records.add_worktree(
            Worktree(
                project_id=project.id,
                path=str(path),
                branch=f"orchtui/{task}",
                base="main",
                state=WorktreeState.ACTIVE,
                created_at=BASE + index,
            )
        )
        created = BASE + 10 * index
        records.add_session(
            AgentSession(
                id=sid,
                project_id=project.id,
                worktree_id=wt.id,
                agent=agent,
                task=task,
                status=status,
                exit_code=code,
                status_detail=f"exit code {code}" if code is not None else None,
                created_at=created,
                updated_at=created,
                status_at=created,
            )
        )
        log = state.log_file(sid)
        log.parent.mkdir(parents=True, exist_ok=True)
        body = SCRIPTED_LOG if screen is None else screen.read_text().replace("\n", "\r\n")
        log.write_bytes(body.encode())
        os.utime(log, (BASE + 700 - 60 * index, BASE + 700 - 60 * index))
        model = MODELS[index]
        ctx.usage.add(
            Usage(
                session_id=sid,
                key=f"turn{turn}",
                agent=agent,
                model=model,
                at=BASE + 100 * turn + index,
                input_tokens=1200 * (index + 1),
                output_tokens=300 + 50 * turn,
                cache_read=4000 * turn,
                cost=ctx.prices.cost(model, 1200 * (index + 1), 300 + 50 * turn, 4000 * turn),
            )
            for turn in range(index + 1)
        )
    first = SESSIONS[0][0]
    done = ledger.enqueue(first, "Write tests for greet()")
    for st in (CommandState.ISSUED, CommandState.DELIVERED, CommandState.RUNNING, CommandState.DONE):
        ledger.transition(
            done.id or 0, st, {"done": "completion marker seen"}.get(st.value, f"agent {st.value}")
        )
    running = ledger.enqueue(first, "Now cover the empty name")
    for st in (CommandState.ISSUED, CommandState.DELIVERED, CommandState.RUNNING):
        ledger.transition(running.id or 0, st, "agent working" if st is CommandState.RUNNING else "verified")
    ledger.enqueue(first, "Then run the whole suite", kind=CommandKind.PROMPT)
    return ctx


@pytest.fixture
def world_with_run(world: Context) -> Context:
    """The same world with a playbook run of a1b2c3's task: stage `test`, attempt 2,
    its gates checked, and an approval waiting to start `merge`."""
    from orchtui.store.tables import GateResult, Run

    runs = world.runs
    project = world.records.sessions()[0].project_id
    runs.add(
        Run(
            id="7e57ab",
            project_id=project,
            playbook="default",
            playbook_path="playbooks/default.yaml",
            task="add-tests",
            worktree_id=1,
            state="gating",
            stage="test",
            attempt=2,
            detail="test: checking gates",
            created_at=BASE,
            updated_at=BASE,
        )
    )
    for stage in ("plan", "build"):
        runs.open_stage("7e57ab", stage, "done")
    runs.open_stage("7e57ab", "test", "gating", attempt=2)
    world.records.update_session("a1b2c3", run_id="7e57ab", role="tester")
    results = [
        (1, "fail", "`python3 -m pytest -q` exited 1: 1 failed in 0.31s"),
        (2, "pass", "`python3 -m pytest -q` exited 0: 1 passed in 0.12s"),
    ]
    for attempt, state, why in results:
        runs.record_gate(
            GateResult(
                run_id="7e57ab",
                stage="test",
                attempt=attempt,
                gate_index=0,
                type="command",
                state=state,
                why=why,
                evidence="",
                at=BASE + attempt,
            )
        )
    runs.record_gate(
        GateResult(
            run_id="7e57ab",
            stage="test",
            attempt=2,
            gate_index=1,
            type="file_exists",
            state="pending",
            why="waiting for coverage.xml",
            at=BASE + 3,
        )
    )
    runs.request_approval(
        "7e57ab",
        "merge",
        "start",
        {
            "run": "7e57ab",
            "task": "add-tests",
            "stage": "merge",
            "automation": "human_approval",
            "merge": True,
            "plan": [],
            "previous_stage": "review",
            "previous_gates": [{"gate": "content_check", "state": "pass", "why": "REVIEW.md has a Verdict"}],
            "diff": " calc.py | 2 ++\n test_calc.py | 5 +++++\n 2 files changed, 7 insertions(+)",
        },
    )
    return world
