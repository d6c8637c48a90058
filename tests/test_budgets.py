"""Budgets and cost reports, with the scripted agent's (fake) usage in real tmux."""

from __future__ import annotations

import time
from pathlib import Path

from helpers import Orch, wait_for
from test_run_policies import hook_env, hook_events


def test_run_over_budget_pauses_new_prompts_and_raises_the_event(orch: Orch, tmp_path: Path) -> None:
    scenario = tmp_path / "spendy.toml"
    scenario.write_text(
        '[[rule]]\nmatch = "spend"\nsteps = [{ work = 0.3 }, { say = "spent" }, { usage = [5000, 1000] }]\n'
        '[[rule]]\nmatch = ""\nsteps = [{ work = 0.3 }, { say = "Echo: {prompt}" }]\n'
    )
    # scripted-1 costs $3 / $15 per million tokens: one turn is 5000*3 + 1000*15 = $0.03.
    book = tmp_path / "budget.yaml"
    book.write_text(
        "budget_usd: 0.05\nstages:\n  - id: build\n    automation: fully_auto\n"
        "    roles:\n      - {role: builder, agents: [scripted], prompt: spend once}\n"
        "    gates:\n      - {type: approval}\n"
    )
    env, out = hook_env(tmp_path)
    orch.env.update({**env, "ORCHTUI_SCRIPTED_SCENARIO": str(scenario)})
    orch.run("run", str(book), "--task", "spendy")
    sid = wait_for(
        lambda: next((s["id"] for s in orch.json("session", "list") if s["role"] == "builder"), None)
    )
    # 60 % of the budget: no event yet.
    wait_for(lambda: orch.json("report")["sessions"][sid]["calls"] == 1)
    assert abs(orch.json("report")["runs"][orch.json("runs")[0]["id"]]["cost"] - 0.03) < 1e-9
    assert not [e for e in orch.json("events") if e["kind"].startswith("budget.")]

    # The second turn crosses 100 %: the event is raised (and reaches the hook), the run pauses.
    orch.run("session", "send", sid, "spend again")
    wait_for(lambda: any(e["kind"] == "budget.exceeded" for e in orch.json("events", sid)), timeout=30)
    event = next(e for e in orch.json("events", sid) if e["kind"] == "budget.exceeded")
    assert event["data"]["scope"] == "run" and event["data"]["spent"] >= 0.05
    wait_for(lambda: orch.json("runs")[0]["state"] == "paused")
    assert "budget" in orch.json("runs")[0]["detail"]
    wait_for(lambda: any(e["kind"] == "budget.exceeded" for e in hook_events(out)), timeout=10)

    # New prompts wait: a queued prompt is not delivered while the budget is spent...
    orch.run("session", "send", sid, "one more", "--no-wait")
    time.sleep(3)
    rows = orch.json("ledger", sid)
    assert rows[-1]["state"] == "queued", rows[-1]
    # Resuming the run does not lift the budget: the prompt still waits.
    orch.run("resume", orch.json("runs")[0]["id"])
    assert orch.json("runs")[0]["state"] in ("running", "gating")  # its one prompt is done: gates next
    time.sleep(2)
    assert orch.json("ledger", sid)[-1]["state"] == "queued"
    # ...unless the operator sends it anyway, at once.
    orch.run("session", "send", sid, "urgent one", "--now")
    wait_for(lambda: orch.json("ledger", sid)[-1]["state"] in ("delivered", "running", "done"), timeout=30)


def test_report_has_cost_time_and_bottleneck(orch: Orch, tmp_path: Path) -> None:
    sid = orch.new("reported")
    orch.wait_status(sid, "idle")
    orch.run("session", "send", sid, "slow job")
    wait_for(lambda: orch.status(sid) == "idle" and orch.json("report")["sessions"][sid]["calls"] == 1, 30)
    report = orch.json("report")
    row = report["sessions"][sid]
    assert row["busy_s"] >= 3.5, row  # the scenario works 4 s on "slow"
    assert 0 < row["utilisation"] < 1
    assert report["total"]["cost"] == row["cost"] > 0
    assert list(report["days"]) and report["models"]["scripted-1"]["calls"] == 1
    text = orch.run("report").stdout
    assert sid in text and "total $" in text
