"""Allocation plans: the chosen profile per role, counts, worktrees, and the reasons a
role cannot be filled. Shown by `orchtui plan` before anything mutates."""

from __future__ import annotations

from pathlib import Path

from helpers import Orch
from orchtui.config import LimitsConfig
from orchtui.playbook import Stage
from orchtui.services.allocation import plan_stage
from orchtui.services.capacity import Slot


def stage(**data: object) -> Stage:
    return Stage.model_validate({"id": "build", **data})


ROLES = [
    {"role": "dev", "agents": ["claude", "scripted"], "count": 2, "prompt": "build {task}"},
    {"role": "review", "agents": ["codex", "scripted"], "prompt": "review"},
]


def test_first_installed_profile_with_room_is_chosen() -> None:
    plan = plan_stage(stage(roles=ROLES), 1, LimitsConfig(), [], installed=lambda p: p != "claude")
    dev, review = plan.assignments
    assert (dev.profile, dev.count, dev.worktree) == ("scripted", 2, "run")
    assert dev.reason == "claude: CLI not installed"
    assert review.profile == "codex" and review.reason == ""
    assert plan.fillable


def test_roles_count_against_the_limits_together() -> None:
    limits = LimitsConfig(per_profile={"scripted": 2})
    plan = plan_stage(stage(roles=ROLES), 1, limits, [], installed=lambda p: p == "scripted")
    dev, review = plan.assignments
    assert dev.profile == "scripted"
    assert review.profile is None  # dev took both scripted slots
    assert "limits.per_profile.scripted=2" in review.reason and "codex: CLI not installed" in review.reason
    assert not plan.fillable


def test_live_sessions_and_role_limits_and_worktrees() -> None:
    limits = LimitsConfig(max_sessions=10, per_role={"review": 1})
    live = [Slot(1, "scripted", "review")]
    plan = plan_stage(stage(roles=ROLES, worktree="own"), 1, limits, live, installed=lambda p: True)
    dev, review = plan.assignments
    assert dev.profile == "claude" and dev.worktree == "own:dev"
    assert review.profile is None and "limits.per_role.review=1" in review.reason


def test_plan_cli_shows_the_plan_and_refuses_bad_playbooks(orch: Orch, tmp_path: Path) -> None:
    # the shipped playbook names real agents only, never the scripted test agent: with
    # none installed it says which are missing; with one on PATH it plans with it
    none = orch.run("plan", "default", "--task", "feature", check=False, env={"PATH": "/usr/bin:/bin"})
    assert none.returncode == 4 and "scripted" not in none.stdout + none.stderr
    assert "claude: CLI not installed" in none.stdout + none.stderr
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "claude").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "claude").chmod(0o755)
    out = orch.json("plan", "default", "--task", "feature", env={"PATH": f"{bin_dir}:/usr/bin:/bin"})
    assert [s["stage"] for s in out["stages"]] == ["plan", "build", "test", "review", "merge"]
    assert {role["profile"] for stage in out["stages"] for role in stage["roles"]} == {"claude"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages:\n  - id: a\n    needs: [b]\n  - id: b\n    needs: [a]\n")
    proc = orch.run("plan", str(bad), "--task", "x", check=False)
    assert proc.returncode == 2 and proc.stderr.strip() == (
        f"orchtui: error: {bad}: stages: dependency cycle: a -> b -> a"
    )
    full = orch.run(
        "plan",
        "default",
        "--task",
        "x",
        check=False,
        env={"ORCHTUI_LIMITS__PER_PROFILE": "{scripted = 0}", "PATH": "/usr/bin:/bin"},
    )
    assert full.returncode == 4 and "cannot fill every role of: plan, build, test, review" in full.stderr
    assert orch.json("session", "list", "--all") == []  # nothing was started
    graph = tmp_path / "graph.yaml"
    graph.write_text(
        "stages:\n  - id: lint\n    needs: []\n  - id: docs\n    needs: []\n"
        "  - id: join\n    needs: [lint, docs]\n"
    )
    shown = orch.run("plan", str(graph), "--task", "x").stdout
    assert "lint (human_approval) at the start, beside docs" in shown
    assert "join (human_approval) after lint, docs\n" in shown + "\n"
    waves = {
        s["stage"]: (s["needs"], s["wave"]) for s in orch.json("plan", str(graph), "--task", "x")["stages"]
    }
    assert waves == {"lint": ([], 0), "docs": ([], 0), "join": (["lint", "docs"], 1)}
