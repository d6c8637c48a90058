"""Playbook runs end to end with scripted agents in real tmux on a real repository."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import FIXTURES, Orch, engine_context, git, wait_for
from orchtui.config import load_config
from orchtui.domain import RunState
from orchtui.engine.engine import Engine
from orchtui.services import engine_process
from orchtui.services.context import Context
from orchtui.store import Store
from orchtui.store.db import now
from orchtui.store.records import Records
from orchtui.store.runs import Runs
from orchtui.store.tables import Run

ROOT = Path(__file__).parent.parent


def playbook_copy(tmp_path: Path) -> Path:
    """The shipped default playbook, with scripted agents and this interpreter's pytest."""
    text = (ROOT / "playbooks" / "default.yaml").read_text()
    text = re.sub(r"agents: \[[^\]]*\]", "agents: [scripted]", text)
    text = text.replace("python3 -m pytest -q", f"{sys.executable} -m pytest -q")
    path = tmp_path / "default.yaml"
    path.write_text(text)
    return path


def use_playbook_agents(orch: Orch) -> None:
    orch.env["ORCHTUI_SCRIPTED_SCENARIO"] = str(FIXTURES / "scenarios" / "playbook.toml")


def approve(orch: Orch, stage: str, timeout: float = 60) -> int:
    def pending() -> int | None:
        rows = [a for a in orch.json("approvals") if a["stage"] == stage and a["state"] == "pending"]
        return rows[0]["id"] if rows else None

    approval_id = int(wait_for(pending, timeout=timeout, interval=0.3))
    orch.run("approve", str(approval_id))
    return approval_id


def run_events(orch: Orch, run_id: str) -> list[dict[str, object]]:
    return [e for e in orch.json("events") if e["data"].get("run") == run_id]


DEFAULT_STAGES = ["plan", "build", "test", "review", "merge"]


def completed_stages(events: list[dict[str, object]]) -> list[object]:
    return [e["data"]["stage"] for e in events if e["kind"] == "stage.completed"]  # type: ignore[index]


def tagged_prompts(orch: Orch, run_id: str) -> list[str]:
    return [r["actor"] for r in orch.json("ledger") if r["actor"].startswith(f"run:{run_id}:")]


WAIT = ["--wait-for-approvals"]  # approvals are answered from outside while it follows


def test_default_playbook_headless_with_cli_approvals(orch: Orch, tmp_path: Path) -> None:
    use_playbook_agents(orch)
    book = playbook_copy(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchtui", "run", str(book), "--task", "feature", "--headless", *WAIT],
        cwd=orch.repo,
        env=orch.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    approve(orch, "build")
    approve(orch, "test", timeout=120)
    approve(orch, "merge", timeout=120)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    run = orch.json("runs")[0]
    assert run["state"] == "done" and run["id"] == out.splitlines()[0]

    # the merge landed on the target branch (checked out and clean here: merged in place)
    # under the default [git] policy: a Conventional Commit subject and orchtui's trailers
    assert git(orch.repo, "log", "-1", "--format=%s", "main") == "feat: merge orchtui/feature"
    assert f"Orchtui-Run: {run['id']}" in git(orch.repo, "log", "-1", "--format=%B", "main")
    assert "return a + b" in (orch.repo / "calc.py").read_text()
    assert git(orch.repo, "status", "--porcelain") == ""

    # the test stage ran the repository's real tests: failed once, fixed on retry, passed
    store = Store(f"sqlite:///{orch.home / 'orchtui.db'}")
    gates = [(g.attempt, g.state) for g in Runs(store).gate_results(run["id"], "test")]
    evidence = [g.evidence for g in Runs(store).gate_results(run["id"], "test")]
    approvals = Runs(store).approvals()
    store.close()
    assert gates == [(1, "fail"), (2, "pass")]
    assert "1 failed" in evidence[0] and "1 passed" in evidence[1]
    assert [(a.stage, a.state) for a in approvals] == [
        ("build", "approved"),
        ("test", "approved"),
        ("merge", "approved"),
    ]
    assert all(a.who and a.decided_at for a in approvals)

    # every step in the ledger, each prompt once, in stage order, all done
    events = run_events(orch, run["id"])
    assert completed_stages(events) == DEFAULT_STAGES
    tags = tagged_prompts(orch, run["id"])
    assert len(tags) == len(set(tags))
    assert [t.split(":")[2] for t in tags] == ["plan", "build", "test", "test", "test", "test", "review"]
    assert all(r["state"] == "done" for r in orch.json("ledger") if r["actor"].startswith("run:"))


def test_kill9_mid_stage_then_restart_continues_without_repeats(orch: Orch, tmp_path: Path) -> None:
    use_playbook_agents(orch)
    run_id = orch.run("run", str(playbook_copy(tmp_path)), "--task", "crashy").stdout.strip()
    approve(orch, "build")
    config = load_config(orch.repo, orch.env)

    def build_prompt_out() -> bool:
        # read the store, not a CLI process: the kill must land while the build stage is live
        return any(
            r.actor.startswith(f"run:{run_id}:build:") and r.state in ("delivered", "running")
            for r in orch.ledger_rows()
        )

    wait_for(build_prompt_out, timeout=30, interval=0.02)
    pid = engine_process.engine_pid(config)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: orch.engine_pid() is None, timeout=10)
    orch.run("engine", "start")
    approve(orch, "test", timeout=120)
    approve(orch, "merge", timeout=120)
    wait_for(lambda: orch.json("runs")[0]["state"] == "done", timeout=60, interval=0.3)
    events = run_events(orch, run_id)
    assert completed_stages(events) == DEFAULT_STAGES
    tags = tagged_prompts(orch, run_id)
    assert len(tags) == len(set(tags)), Counter(tags)
    # each agent received exactly the prompts the ledger holds for it
    for session in orch.json("session", "list", "--all"):
        sent = [r for r in orch.json("ledger", session["id"]) if r["kind"] == "prompt"]
        received = [e for e in orch.transcript(session["id"]) if e["type"] == "prompt"]
        assert len(received) == len(sent)


def test_invalid_playbook_is_refused_before_anything_runs(orch: Orch, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages:\n  - id: plan\n    roles:\n      - {role: dev, agents: [ghost], prompt: x}\n")
    proc = orch.run("run", str(bad), "--task", "nope", check=False)
    assert proc.returncode == 2 and proc.stderr.strip() == (
        f"orchtui: error: {bad}: stages.0.roles.0.agents: unknown agent profile 'ghost'"
    )
    assert orch.json("runs") == [] and orch.json("session", "list", "--all") == []
    assert "orchtui/nope" not in git(orch.repo, "branch")


def test_rejecting_an_approval_pauses_the_run_with_the_reason(orch: Orch, tmp_path: Path) -> None:
    use_playbook_agents(orch)
    orch.run("run", str(playbook_copy(tmp_path)), "--task", "rejected")
    pending = wait_for(lambda: orch.json("approvals"), timeout=60, interval=0.3)
    no_reason = orch.run("reject", str(pending[0]["id"]), check=False)
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    orch.run("reject", str(pending[0]["id"]), "--reason", "plan is too vague")
    wait_for(lambda: orch.json("runs")[0]["state"] == "paused", timeout=20)
    assert "plan is too vague" in orch.json("runs")[0]["detail"]
    again = orch.run("approve", str(pending[0]["id"]), check=False)
    assert again.returncode == 2 and "already rejected" in again.stderr
    # Resumed, the stage asks again (a new approval, the old one stays rejected on record).
    run_id = orch.json("runs")[0]["id"]
    not_paused = orch.run("resume", "nope00", check=False)
    assert not_paused.returncode == 3
    orch.run("resume", run_id)
    fresh = wait_for(lambda: [a for a in orch.json("approvals") if a["id"] != pending[0]["id"]], timeout=20)
    assert fresh[0]["stage"] == pending[0]["stage"]
    assert orch.json("runs")[0]["state"] == "waiting_approval"
    assert any(e["kind"] == "run.resumed" for e in run_events(orch, run_id))
    assert orch.run("resume", run_id, check=False).returncode == 2  # not paused any more


AUTOMATION = st.sampled_from(["fully_auto", "auto_notify", "human_approval", "manual"])


@settings(max_examples=25, deadline=None)
@given(
    levels=st.lists(AUTOMATION, min_size=1, max_size=5),
    decisions=st.lists(st.sampled_from(["advance", "approve", "reject", "wait"]), min_size=1, max_size=30),
)
def test_human_approval_stage_never_starts_without_an_approval(
    levels: list[str], decisions: list[str]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "repo").mkdir()
        book = root / "book.yaml"
        book.write_text(
            "stages:\n" + "".join(f"  - id: s{i}\n    automation: {lv}\n" for i, lv in enumerate(levels))
        )
        env = {"ORCHTUI_HOME": str(root / "home"), "ORCHTUI_TMUX_SOCKET": "unused-by-this-test"}
        ctx = Context(load_config(root / "repo", env))
        project = ctx.records.project_for(str(root / "repo"), "repo", "t")
        at = now()
        ctx.runs.add(
            Run(
                id="r1",
                project_id=project.id or 0,
                playbook="b",
                playbook_path=str(book),
                task="t",
                state=RunState.PENDING,
                created_at=at,
                updated_at=at,
            )
        )

        async def drive() -> None:
            engine = Engine(ctx)
            for decision in decisions:
                pending = ctx.runs.approvals(pending_only=True)
                if decision in ("approve", "reject") and pending:
                    ctx.runs.answer(pending[0].id or 0, decision == "approve", "tester", "no")
                engine.advancer.advance_all()
                while engine.tasks:
                    await asyncio.gather(*list(engine.tasks))
                check(ctx, levels)

        asyncio.run(drive())
        ctx.store.close()


def check(ctx: Context, levels: list[str]) -> None:
    started = {e.message.split()[2] for e in ctx.records.events(kind="stage.completed")}
    run = ctx.runs.get("r1")
    if run.state in ("running", "gating") and run.stage:
        started.add(run.stage)
    for stage in started:
        level = levels[int(stage[1:])]
        if level in ("human_approval", "manual"):  # manual: orchtui ran nothing until marked done
            approval = ctx.runs.approval_for("r1", stage, "start" if level == "human_approval" else "done")
            assert approval is not None and approval.state == "approved", (stage, levels)
    assert not any(  # a manual stage never asks to start, and never starts an agent
        ctx.runs.approval_for("r1", f"s{i}", "start") for i, level in enumerate(levels) if level == "manual"
    )


async def test_run_with_approvals_answered_in_the_dashboard(
    orch: Orch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard_helpers import until
    from orchtui.ui.app import OrchtuiApp
    from orchtui.ui.widgets import ApprovalBar

    use_playbook_agents(orch)
    ctx = engine_context(orch, monkeypatch)
    run_id = orch.run("run", str(playbook_copy(tmp_path)), "--task", "from-keys").stdout.strip()
    app = OrchtuiApp(ctx, orch.repo)
    async with app.run_test(size=(160, 45)) as pilot:

        def waiting_for(stage: str) -> bool:
            return bool(app.snap and app.snap.approvals and app.snap.approvals[0].stage == stage)

        await until(pilot, lambda: waiting_for("build"), timeout=60)
        bar = str(app.query_one(ApprovalBar).render())
        assert "start build" in bar and "implementer" in bar and "y approve" in bar
        await pilot.press("y")
        await until(pilot, lambda: waiting_for("test"), timeout=120)
        await pilot.press("y")
        await until(pilot, lambda: waiting_for("merge"), timeout=120)
        assert app.snap is not None and app.snap.run is not None and app.snap.run.stage == "merge"
        await pilot.press("y")
        await until(
            pilot,
            lambda: app.snap is not None and app.snap.run is not None and app.snap.run.state == "done",
            timeout=60,
        )
    assert git(orch.repo, "log", "-1", "--format=%s", "main") == "feat: merge orchtui/from-keys"
    approvals = orch.json("approvals", "--all")
    assert [(a["stage"], a["state"]) for a in approvals] == [
        ("build", "approved"),
        ("test", "approved"),
        ("merge", "approved"),
    ]
    assert all(a["run"] == run_id and a["who"] for a in approvals)


def test_a_branch_name_full_of_shell_syntax_is_never_run_by_a_gate(orch: Orch, tmp_path: Path) -> None:
    """A run started from a branch named `feat$(touch${IFS}pwned)`: the gate that names
    `{base}` sees that name as data, and nothing of it runs."""
    hostile = "feat$(touch${IFS}pwned)"
    git(orch.repo, "switch", "-q", "-c", hostile)
    book = tmp_path / "hostile.yaml"
    book.write_text(
        "stages:\n  - id: build\n    automation: fully_auto\n"
        "    roles:\n      - {role: builder, agents: [scripted], prompt: hello}\n"
        "    gates:\n"
        "      - type: command\n"
        '        run: test "$(git rev-list --count {base}..HEAD)" -ge 0 && printf %s {base}\n'
    )
    run_id = orch.run("run", str(book), "--task", "hostile").stdout.strip()

    def gates() -> list[tuple[str, str]]:
        store = Store(f"sqlite:///{orch.home / 'orchtui.db'}")
        try:
            return [(g.state, g.evidence) for g in Runs(store).gate_results(run_id, "build")]
        finally:
            store.close()

    wait_for(gates, timeout=90, interval=0.3)
    assert not [p for p in tmp_path.glob("**/pwned")], "a branch name ran as a command"
    assert gates()[0] == ("pass", hostile)
    wait_for(lambda: orch.json("runs")[0]["state"] == "done", timeout=60, interval=0.3)


async def test_a_review_that_requests_changes_blocks_the_merge_with_its_reason(
    orch: Orch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default playbook's review gate reads the verdict: "request changes" pauses the
    run at review with what the verdict says (in `orchtui runs --json` and the dashboard's
    Gates pane); the merge is never asked for, main untouched."""
    from textual.widgets import TabbedContent

    from dashboard_helpers import until
    from orchtui.ui.app import OrchtuiApp
    from orchtui.ui.widgets import GatesPanel

    scenario = (FIXTURES / "scenarios" / "playbook.toml").read_text()
    approving = "## Verdict\\napprove\\n"
    assert approving in scenario
    (tmp_path / "playbook.toml").write_text(
        scenario.replace(approving, "## Verdict\\n**Request changes**\\n")
    )
    orch.env["ORCHTUI_SCRIPTED_SCENARIO"] = str(tmp_path / "playbook.toml")
    main_before = git(orch.repo, "rev-parse", "main")
    orch.run("run", str(playbook_copy(tmp_path)), "--task", "unreviewed")
    approve(orch, "build")
    approve(orch, "test", timeout=120)
    wait_for(lambda: orch.json("runs")[0]["state"] == "paused", timeout=180, interval=0.5)
    run = orch.json("runs")[0]
    assert run["stage"] == "review"
    assert "the review did not approve" in run["detail"] and "**Request changes**" in run["detail"]
    store = Store(f"sqlite:///{orch.home / 'orchtui.db'}")
    try:
        review = Runs(store).gate_results(run["id"], "review")
        asked = [(a.stage, a.state) for a in Runs(store).approvals()]
    finally:
        store.close()
    assert review and all(g.state == "fail" for g in review)
    assert ("merge", "pending") not in asked and ("merge", "approved") not in asked
    assert git(orch.repo, "rev-parse", "main") == main_before
    app = OrchtuiApp(engine_context(orch, monkeypatch), orch.repo)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.snap is not None and app.snap.run is not None and app.snap.run_gates)
        assert app.snap is not None
        assert [(g.state, "the review did not approve" in g.why) for g in app.snap.run_gates] == [
            ("fail", True)
        ]
        app.query_one("#tabs", TabbedContent).active = "tab-gates"  # drawn while shown
        await until(pilot, lambda: "Request changes" in str(app.query_one(GatesPanel).render()))


def test_an_auto_notify_stage_tells_the_operator_it_is_done(orch: Orch, tmp_path: Path) -> None:
    """auto_notify runs on its own and, once its stage completes, a `stage.notify` event
    at `notice` severity reaches the events hook (default threshold: notice); a
    fully_auto stage says nothing, and info events stay below the hook."""
    book = tmp_path / "notify.yaml"
    book.write_text(
        "name: notify\nstages:\n"
        "  - id: quiet\n    automation: fully_auto\n"
        "    roles:\n      - {role: a, agents: [scripted], prompt: hello}\n"
        "  - id: loud\n    automation: auto_notify\n"
        "    roles:\n      - {role: b, agents: [scripted], prompt: hello again}\n"
    )
    heard = tmp_path / "hook.jsonl"
    hook = tmp_path / "hook.sh"
    hook.write_text(f"#!/bin/sh\ncat >> '{heard}'\necho >> '{heard}'\n")
    hook.chmod(0o755)
    orch.env["ORCHTUI_EVENTS__HOOK"] = f'["{hook}"]'
    orch.run("run", str(book), "--task", "told")
    wait_for(lambda: orch.json("runs")[0]["state"] == "done", timeout=120, interval=0.5)
    events = [json.loads(line) for line in heard.read_text().splitlines() if line.strip()]
    told = [e for e in events if e["kind"] == "stage.notify"]
    assert [(e["data"]["stage"], e["severity"]) for e in told] == [("loud", "notice")]
    assert "stage loud of told completed" in told[0]["message"]
    assert all(e["severity"] != "info" for e in events)


def test_metric_gates_read_a_command_gates_output_and_an_unknown_metric_fails_at_the_timeout(
    orch: Orch, tmp_path: Path
) -> None:
    """A command gate's metric reaches a later metric_threshold gate of the run (and is
    kept as an artifact); a metric nothing provides fails once the stage timeout has
    passed, instead of leaving the run pending forever."""
    book = tmp_path / "metrics.yaml"
    book.write_text(
        "name: metrics\nstages:\n  - id: check\n    automation: fully_auto\n    timeout: 2\n"
        "    roles:\n      - {role: a, agents: [scripted], prompt: hello}\n"
        "    gates:\n"
        "      - {type: command, run: 'echo score 42', metrics: {score: 'score (\\d+)'}}\n"
        "      - {type: metric_threshold, metric: score, op: '>=', value: 40}\n"
        "      - {type: metric_threshold, metric: nobody.sets.this, op: '<', value: 1}\n"
    )
    orch.run("run", str(book), "--task", "measured")
    wait_for(lambda: orch.json("runs")[0]["state"] == "paused", timeout=120, interval=0.5)
    run = orch.json("runs")[0]
    assert "nobody.sets.this not available yet after 2s (the stage timeout): never resolved" in run["detail"]
    store = Store(f"sqlite:///{orch.home / 'orchtui.db'}")
    try:
        last = {g.gate_index: (g.state, g.why) for g in Runs(store).gate_results(run["id"], "check")}
        artifacts = Runs(store).artifacts(run["id"])
    finally:
        store.close()
    assert last[1] == ("pass", "score = 42 (>= 40 is True)")
    assert artifacts["metric:score"] == "42"


def test_a_manual_stage_runs_nothing_until_the_operator_marks_it_done(orch: Orch, tmp_path: Path) -> None:
    """manual: no agent starts and no prompt is sent; the run waits for the operator to
    say the work is done (an approval of action `done`), then the stage's gates decide."""
    book = tmp_path / "manual.yaml"
    book.write_text(
        "name: manual\nstages:\n  - id: write\n    automation: manual\n"
        "    roles:\n      - {role: w, agents: [scripted], prompt: never sent}\n"
        "    gates:\n      - {type: file_exists, path: NOTES.md}\n"
    )
    orch.run("run", str(book), "--task", "byhand")
    asked = wait_for(lambda: orch.json("approvals"), timeout=60, interval=0.3)
    assert [(a["stage"], a["action"]) for a in asked] == [("write", "done")]
    assert orch.json("runs")[0]["state"] == "waiting_approval"
    (orch.repo / "NOTES.md").write_text("written by a person\n")
    orch.run("approve", str(asked[0]["id"]))
    wait_for(lambda: orch.json("runs")[0]["state"] == "done", timeout=60, interval=0.3)
    assert orch.json("session", "list") == [] and orch.json("ledger") == []


def test_headless_exit_codes_say_when_a_person_is_needed_and_what_is_left_running(
    orch: Orch, tmp_path: Path
) -> None:
    """--headless stops with 6 at the first approval (and how to go on), with 124 at its
    timeout, and then names the agents it leaves running."""
    use_playbook_agents(orch)
    needs = orch.run("run", str(playbook_copy(tmp_path)), "--task", "asks", "--headless", check=False)
    assert needs.returncode == 6, needs.stderr
    assert "needs a person: approval #" in needs.stderr and "orchtui wait --run" in needs.stderr

    slow_agent = tmp_path / "slow.toml"
    slow_agent.write_text('name = "slow"\n[[rule]]\nmatch = ""\nsteps = [{ work = 60.0 }]\n')
    orch.env["ORCHTUI_SCRIPTED_SCENARIO"] = str(slow_agent)
    orch.run("engine", "stop")  # agents of runs take pass_env from the engine's environment
    book = tmp_path / "slow.yaml"
    book.write_text(
        "name: slow\nstages:\n  - id: long\n    automation: fully_auto\n"
        "    roles:\n      - {role: worker, agents: [scripted], prompt: work}\n"
    )
    slow = orch.run("run", str(book), "--task", "slow", "--headless", "--timeout", "8", check=False)
    assert slow.returncode == 124, slow.stderr
    left = [line for line in slow.stderr.splitlines() if "left running" in line]
    assert len(left) == 1 and "1 agent(s)" in left[0] and "(scripted worker, working)" in left[0]


def test_artifacts_recorded_by_an_agent_and_by_a_person_satisfy_their_gates(
    orch: Orch, tmp_path: Path
) -> None:
    """An agent of a run records a URL through $ORCHTUI_ARTIFACT; a person records a
    report with `orchtui artifact add`; `artifact_exists` gates match them by kind and label."""
    scenario = tmp_path / "publish.toml"
    scenario.write_text(
        'name = "publish"\n[[rule]]\nmatch = "role publisher"\nsteps = [{ run = ["sh", "-c", '
        '"\\"$ORCHTUI_ARTIFACT\\" --kind url --label preview https://example.test/pr/7"] }]\n'
    )
    orch.env["ORCHTUI_SCRIPTED_SCENARIO"] = str(scenario)
    book = tmp_path / "evidence.yaml"
    book.write_text(
        "name: evidence\nstages:\n"
        "  - id: publish\n    automation: fully_auto\n"
        "    roles:\n      - {role: publisher, agents: [scripted], prompt: publish it}\n"
        "    gates:\n      - {type: artifact_exists, kind: url, label: preview}\n"
        "  - id: signoff\n    automation: manual\n"
        "    gates:\n      - {type: artifact_exists, kind: report}\n"
    )
    run_id = orch.run("run", str(book), "--task", "evidence").stdout.split()[0]
    asked = wait_for(lambda: orch.json("approvals"), timeout=90, interval=0.3)  # publish passed
    bad = orch.run("artifact", "add", "--run", run_id, "--kind", "report", "--label", "a b", "x", check=False)
    assert bad.returncode == 2 and "--label" in bad.stderr
    orch.run("artifact", "add", "--run", run_id, "--kind", "report", "--label", "notes", "read it; fine")
    orch.run("approve", str(asked[0]["id"]))
    wait_for(lambda: orch.json("runs")[0]["state"] == "done", timeout=60, interval=0.3)
    recorded = {(a["stage"], a["name"], a["value"]) for a in orch.json("artifact", "list", run_id)}
    assert ("publish", "url:preview", "https://example.test/pr/7") in recorded
    assert ("signoff", "report:notes", "read it; fine") in recorded


def test_pause_and_cancel_a_run_by_cli(orch: Orch, tmp_path: Path) -> None:
    """pause: nothing new starts, resume goes on; cancel: its agent stops, the open prompt
    is cancelled, the run ends `cancelled` and its worktree and branch are kept."""
    slow_agent = tmp_path / "slow.toml"
    slow_agent.write_text('name = "slow"\n[[rule]]\nmatch = ""\nsteps = [{ work = 60.0 }]\n')
    orch.env["ORCHTUI_SCRIPTED_SCENARIO"] = str(slow_agent)
    book = tmp_path / "slow.yaml"
    book.write_text(
        "name: slow\nstages:\n  - id: long\n    automation: fully_auto\n"
        "    roles:\n      - {role: worker, agents: [scripted], prompt: work}\n"
    )
    run_id = orch.run("run", str(book), "--task", "stopme").stdout.split()[0]
    wait_for(
        lambda: orch.ledger_rows() and orch.ledger_rows()[0].state == "running", timeout=60, interval=0.3
    )
    orch.run("pause", run_id)
    assert orch.json("runs")[0]["state"] == "paused"
    orch.run("resume", run_id)
    assert orch.json("runs")[0]["state"] == "running"

    out = orch.run("cancel", run_id, "--reason", "wrong task").stdout
    assert "1 agent(s) stopped" in out
    run = orch.json("runs")[0]
    assert run["state"] == "cancelled" and "wrong task" in run["detail"]
    session = orch.json("session", "list", "--all")[0]
    assert session["status"] == "killed" and Path(session["worktree"]).is_dir()
    assert git(orch.repo, "branch", "--list", "orchtui/stopme")
    assert [r.state for r in orch.ledger_rows()] == ["cancelled"]
    again = orch.run("cancel", run_id, check=False)
    assert again.returncode == 2 and "already cancelled" in again.stderr


def test_stuck_policy_nudge_sends_its_prompt_once(orch: Orch, tmp_path: Path) -> None:
    """An agent silent while working past events.stuck_after gets the stage's nudge, as
    one urgent ledger row, however many reconciles see it silent."""
    hung = tmp_path / "hung.toml"
    hung.write_text(
        'name = "hung"\n[[rule]]\nmatch = "role worker"\nsteps = [{ work = 0.3 }, { hang = 30 }]\n'
    )
    orch.env |= {
        "ORCHTUI_SCRIPTED_SCENARIO": str(hung),
        "ORCHTUI_EVENTS__STUCK_AFTER": "2",
        "ORCHTUI_ENGINE__RECONCILE_INTERVAL": "0.5",
    }
    book = tmp_path / "stuck.yaml"
    book.write_text(
        "name: stuck\nstages:\n  - id: long\n    automation: fully_auto\n"
        "    stuck_policy: {nudge: 'Are you stuck? Say where you are.'}\n"
        "    roles:\n      - {role: worker, agents: [scripted], prompt: work}\n"
    )
    run_id = orch.run("run", str(book), "--task", "nudged").stdout.split()[0]

    def nudges() -> list[Any]:
        return [r for r in orch.ledger_rows() if r.actor.startswith("stuck_policy:")]

    wait_for(nudges, timeout=60, interval=0.3)
    time.sleep(4)  # several more reconciles of the same silence
    rows = nudges()
    assert len(rows) == 1 and rows[0].urgent and rows[0].actor == f"stuck_policy:{run_id}:long"
    assert any(e["kind"] == "stage.stuck" for e in run_events(orch, run_id))


def test_resume_and_retry_run_the_stage_again_with_the_failed_gates_as_feedback(
    orch: Orch, tmp_path: Path
) -> None:
    """A run paused on failed gates is not resumed into the same failure: `resume` says it
    runs the agents again with the failures as feedback (a new attempt), `retry` does
    the same for a paused run; the third attempt writes the file and the run is done."""
    agent = tmp_path / "fixer.toml"
    agent.write_text(
        'name = "fixer"\n[[rule]]\nmatch = "attempt 3"\n'
        'steps = [{ work = 0.2 }, { write = "fixed.txt", content = "ok\\n" }]\n'
        '[[rule]]\nmatch = ""\nsteps = [{ work = 0.2 }, { say = "tried" }]\n'
    )
    orch.env["ORCHTUI_SCRIPTED_SCENARIO"] = str(agent)
    book = tmp_path / "fix.yaml"
    book.write_text(
        "name: fix\nstages:\n  - id: build\n    automation: fully_auto\n"
        "    retries: 0\n    on_failure: stay\n"
        "    roles:\n      - {role: fixer, agents: [scripted], prompt: fix it}\n"
        "    gates:\n      - {type: file_exists, path: fixed.txt, message: 'fixed.txt is the proof'}\n"
    )
    run_id = orch.run("run", str(book), "--task", "fixit").stdout.split()[0]

    def paused_at(attempt: int) -> bool:
        run = orch.json("runs")[0]
        return bool(run["state"] == "paused" and run["attempt"] == attempt)

    wait_for(lambda: paused_at(1), timeout=60, interval=0.3)
    said = orch.run("resume", run_id).stdout
    assert "failures as feedback (attempt 2)" in said, said
    wait_for(lambda: paused_at(2), timeout=60, interval=0.3)
    assert "attempt 3" in orch.run("retry", run_id).stdout
    wait_for(lambda: orch.json("runs")[0]["state"] == "done", timeout=60, interval=0.3)
    prompts = [r for r in orch.json("ledger") if r["actor"].startswith(f"run:{run_id}:build:")]
    assert [r["actor"].split(":")[3] for r in prompts] == ["1", "2", "3"]
    assert "gates failed" not in prompts[0]["text"]
    for later in prompts[1:]:
        assert (
            "The stage's gates failed last time" in later["text"]
            and "fixed.txt is the proof" in later["text"]
        )
    retried = orch.run("retry", run_id, check=False)
    assert retried.returncode == 2 and "only a paused or failed run" in retried.stderr


def test_a_jury_score_an_agent_records_and_the_diff_size_are_metrics_gates_read(
    orch: Orch, tmp_path: Path
) -> None:
    """A judge role records its score (`$ORCHTUI_ARTIFACT --kind metric`); a threshold on
    it, and on the size of the run's diff, decide the stage. A metric that is not a
    number is refused with a one-line error."""
    judge = (
        "import os, subprocess; subprocess.run([os.environ['ORCHTUI_ARTIFACT'], '--kind', 'metric', "
        "'--label', 'jury_score', '0.82'], check=True)"
    )
    scenario = tmp_path / "judge.toml"
    scenario.write_text(
        '[[rule]]\nmatch = ""\n'
        f'steps = [{{ work = 0.2 }}, {{ write = "notes.txt", content = "one\\ntwo\\n" }}, '
        f"{{ run = {json.dumps([sys.executable, '-c', judge])} }}]\n"
    )
    orch.env["ORCHTUI_SCRIPTED_SCENARIO"] = str(scenario)
    book = tmp_path / "jury.yaml"
    book.write_text(
        "name: jury\nstages:\n  - id: judge\n    automation: fully_auto\n    on_failure: stay\n"
        "    roles:\n      - {role: judge, agents: [scripted], prompt: judge it}\n"
        "    gates:\n"
        "      - {type: metric_threshold, metric: jury_score, op: '>=', value: 0.7}\n"
        "      - {type: metric_threshold, metric: diff.files, op: '==', value: 1}\n"
        "      - {type: metric_threshold, metric: diff.lines, op: '<=', value: 1}\n"
    )
    run_id = orch.run("run", str(book), "--task", "judged").stdout.split()[0]
    wait_for(lambda: orch.json("runs")[0]["state"] == "paused", timeout=60, interval=0.3)
    store = Store(f"sqlite:///{orch.home / 'orchtui.db'}")
    try:
        last = {g.gate_index: (g.state, g.why) for g in Runs(store).gate_results(run_id, "judge")}
    finally:
        store.close()
    assert last[0] == ("pass", "jury_score = 0.82 (>= 0.7 is True)"), last
    assert last[1] == ("pass", "diff.files = 1 (== 1 is True)"), last
    assert last[2] == ("fail", "diff.lines = 2 (<= 1 is False)"), last
    bad = orch.run(
        "artifact", "add", "--run", run_id, "--kind", "metric", "--label", "x", "high", check=False
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "a metric is a number" in bad.stderr


GRAPH = (
    "name: graph\nstages:\n"
    "  - id: lint\n    automation: fully_auto\n    needs: []\n"
    "    roles:\n      - {role: linter, agents: [scripted], prompt: lint it}\n"
    "  - id: docs\n    automation: fully_auto\n    needs: []\n"
    "    roles:\n      - {role: writer, agents: [scripted], prompt: write docs}\n"
    "  - id: join\n    automation: fully_auto\n    needs: [lint, docs]\n"
    "    roles:\n      - {role: joiner, agents: [scripted], prompt: join them}\n"
)


def graph_rows(orch: Orch, run_id: str) -> dict[str, Any]:
    """Each stage's ledger row, by the stage named in its actor tag."""
    return {r.actor.split(":")[2]: r for r in orch.ledger_rows() if r.actor.startswith(f"run:{run_id}:")}


def start_graph(orch: Orch, tmp_path: Path, task: str, work: float) -> str:
    """A run of GRAPH whose agents each work `work` seconds; its id."""
    scenario = tmp_path / "slow.toml"
    scenario.write_text(
        f'name = "slow"\n[[rule]]\nsteps = [{{ work = {work} }}, {{ say = "did {{prompt}}" }}]\n'
    )
    orch.env["ORCHTUI_SCRIPTED_SCENARIO"] = str(scenario)
    book = tmp_path / "graph.yaml"
    book.write_text(GRAPH)
    return str(orch.run("run", str(book), "--task", task).stdout.split()[0])


def follow_to_done(orch: Orch) -> list[dict[str, Any]]:
    """The run's row as seen at each look until it is done."""
    seen: list[dict[str, Any]] = []

    def done() -> bool:
        seen.append(orch.json("runs")[0])
        return bool(seen[-1]["state"] == "done")

    wait_for(done, timeout=180, interval=0.3)
    return seen


def test_stages_whose_needs_are_met_run_side_by_side(orch: Orch, tmp_path: Path) -> None:
    """`needs:` is a graph: two stages that need nothing start together and their agents
    work at the same time (their ledger rows overlap); the stage needing both starts only
    once both are done; the run's row names the stages under way ("lint, docs")."""
    run_id = start_graph(orch, tmp_path, "graph", work=4)
    seen = {run["stage"] for run in follow_to_done(orch)}
    rows = graph_rows(orch, run_id)
    assert set(rows) == {"lint", "docs", "join"}
    lint, docs, join = rows["lint"], rows["docs"], rows["join"]
    assert all(r.state == "done" for r in (lint, docs, join))
    assert lint.running_at < docs.done_at and docs.running_at < lint.done_at  # they overlap
    assert join.queued_at >= max(lint.done_at, docs.done_at)
    assert "lint, docs" in seen
    stages = {s["stage"]: s for s in orch.json("runs")[0]["stages"]}
    assert [stages[s]["state"] for s in ("lint", "docs", "join")] == ["done"] * 3
    assert stages["join"]["started_at"] >= max(stages["lint"]["ended_at"], stages["docs"]["ended_at"])


def test_a_stage_ready_beside_a_running_one_waits_for_capacity(orch: Orch, tmp_path: Path) -> None:
    """With room for one agent, the second of two ready stages waits (it does not pause
    the run) and starts when the first one's agent is done: one at a time, both done."""
    orch.env["ORCHTUI_LIMITS__MAX_SESSIONS"] = "1"
    run_id = start_graph(orch, tmp_path, "narrow", work=2)
    states = {run["state"] for run in follow_to_done(orch)}
    assert "paused" not in states
    rows = graph_rows(orch, run_id)
    first, second = sorted((rows["lint"], rows["docs"]), key=lambda r: r.queued_at)
    assert second.running_at >= first.done_at  # never two agents at once
    events = [e["message"] for e in run_events(orch, run_id)]
    assert any("waits for capacity" in m for m in events)


def test_a_failed_stage_pauses_the_run_and_resume_reruns_only_that_stage(orch: Orch, tmp_path: Path) -> None:
    """Side by side, `docs` fails its gate while `lint` is still working: the run pauses
    naming docs (not lint, which finishes after the resume);
    `resume` runs docs again (attempt 2, with the failure as feedback), not lint; once
    docs passes, `join` runs and the run is done."""
    scenario = tmp_path / "writer.toml"
    scenario.write_text(
        'name = "writer"\n[[rule]]\nmatch = "role writer · attempt 2"\n'
        'steps = [{ work = 0.5 }, { write = "DOCS.md", content = "# Docs\\n" }]\n'
        '[[rule]]\nmatch = "role linter"\nsteps = [{ work = 6 }, { say = "linted" }]\n'
        '[[rule]]\nsteps = [{ work = 1 }, { say = "did {prompt}" }]\n'
    )
    orch.env["ORCHTUI_SCRIPTED_SCENARIO"] = str(scenario)
    book = tmp_path / "graph.yaml"
    book.write_text(
        GRAPH.replace(
            "prompt: write docs}\n",
            "prompt: write docs}\n    gates:\n"
            "      - {type: file_exists, path: DOCS.md, message: docs missing}\n",
        )
    )
    run_id = orch.run("run", str(book), "--task", "docs").stdout.split()[0]
    run = wait_for(lambda: (r := orch.json("runs")[0])["state"] == "paused" and r, timeout=120, interval=0.3)
    assert run["stage"] == "docs" and "docs missing" in run["detail"]  # lint may still be under way
    said = orch.run("resume", run_id).stdout
    assert "docs: its gates had failed" in said and "(attempt 2)" in said, said
    wait_for(lambda: orch.json("runs")[0]["state"] == "done", timeout=120, interval=0.3)
    tags = [r.actor.split(":")[2:4] for r in orch.ledger_rows() if r.actor.startswith(f"run:{run_id}:")]
    assert sorted(tags) == [["docs", "1"], ["docs", "2"], ["join", "1"], ["lint", "1"]]


def test_a_run_from_before_stage_rows_goes_on_from_its_stage(orch: Orch, tmp_path: Path) -> None:
    """A run stored by an older orchtui (one stage at a time, no stage rows), paused at
    its second stage: `resume` takes it from there; the first stage does not run again."""
    orch.new("make-project")  # the project row the run belongs to
    book = tmp_path / "old.yaml"
    book.write_text(
        "name: old\nstages:\n"
        "  - id: first\n    automation: fully_auto\n"
        "    roles:\n      - {role: a, agents: [scripted], prompt: one}\n"
        "  - id: second\n    automation: fully_auto\n"
        "    roles:\n      - {role: b, agents: [scripted], prompt: two}\n"
    )
    store = orch.store
    try:
        project_id = Records(store).sessions()[0].project_id
        Runs(store).add(
            Run(
                id="01d0",
                project_id=project_id,
                playbook="old",
                playbook_path=str(book),
                task="older",
                state="paused",
                stage="second",
                attempt=1,
                detail="paused by someone",
                created_at=now(),
                updated_at=now(),
            )
        )
    finally:
        store.close()
    orch.run("resume", "01d0")
    wait_for(lambda: orch.json("runs")[0]["state"] == "done", timeout=90, interval=0.3)
    tags = [r.actor.split(":")[2] for r in orch.ledger_rows() if r.actor.startswith("run:01d0:")]
    assert tags == ["second"]
    assert {s["stage"]: s["state"] for s in orch.json("runs")[0]["stages"]} == {
        "first": "done",
        "second": "done",
    }


def test_side_by_side_stages_in_their_own_worktrees_meet_in_the_runs_branch(
    orch: Orch, tmp_path: Path
) -> None:
    """Two first stages with `worktree: own` branch from the run's branch (made before
    any agent, since neither works in it), commit apart, and merge back: the stage that
    needs both finds both files in the run's worktree."""
    scenario = tmp_path / "apart.toml"
    scenario.write_text(
        'name = "apart"\n'
        '[[rule]]\nmatch = "role linter"\nsteps = [{ work = 1 }, { write = "lint.txt", content = "l\\n" },'
        ' { commit = "lint" }]\n'
        '[[rule]]\nmatch = "role writer"\nsteps = [{ work = 1 }, { write = "docs.txt", content = "d\\n" },'
        ' { commit = "docs" }]\n'
        '[[rule]]\nsteps = [{ say = "joined" }]\n'
    )
    orch.env["ORCHTUI_SCRIPTED_SCENARIO"] = str(scenario)
    book = tmp_path / "apart.yaml"
    book.write_text(
        GRAPH.replace("needs: []\n", "needs: []\n    worktree: own\n").replace(
            "prompt: join them}\n",
            "prompt: join them}\n    gates:\n"
            "      - {type: file_exists, path: lint.txt}\n      - {type: file_exists, path: docs.txt}\n",
        )
    )
    run_id = orch.run("run", str(book), "--task", "apart").stdout.split()[0]
    wait_for(lambda: orch.json("runs")[0]["state"] in ("done", "paused"), timeout=180, interval=0.3)
    run = orch.json("runs")[0]
    assert run["state"] == "done", run["detail"]
    log = git(orch.repo, "log", "--format=%s", "orchtui/apart")
    assert "lint" in log.splitlines() and "docs" in log.splitlines()
    assert {r.actor.split(":")[2] for r in orch.ledger_rows() if r.actor.startswith(f"run:{run_id}:")} == {
        "lint",
        "docs",
        "join",
    }
