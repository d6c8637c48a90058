"""A playbook from the repository's own folder: a stage in its own worktree that is
reverted after a failed gate and merged back into the run's branch when it passes; its
steps end on the stage's completion marker (the STOP token)."""

from __future__ import annotations

from pathlib import Path

from helpers import Orch, git, wait_for

SCENARIO = """
[[rule]]
match = "stage base"
steps = [{ write = "base.txt", content = "base\\n" }, { commit = "Base" }]

[[rule]]
match = "stage draft · role writer · attempt 1\\\\]"
steps = [
  { write = "BAD.txt", content = "bad\\n" }, { commit = "Bad draft" }, { say = "STAGE-DONE" }, { hang = 3 },
]

[[rule]]
match = "stage draft · role writer · attempt 2\\\\]"
steps = [{ write = "GOOD.txt", content = "good\\n" }, { commit = "Good draft" }, { say = "STAGE-DONE" }]
"""

PLAYBOOK = """
name: custom
stages:
  - id: base
    automation: fully_auto
    roles: [{role: setup, agents: [scripted], prompt: base}]
    gates: [{type: file_exists, path: base.txt}]
  - id: draft
    automation: fully_auto
    worktree: own
    on_failure: revert
    retries: 1
    completion_marker: STAGE-DONE
    roles: [{role: writer, agents: [scripted], prompt: write}]
    gates: [{type: file_exists, path: GOOD.txt}]
"""


def test_own_worktree_revert_marker_and_repo_playbooks(orch: Orch, tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(SCENARIO)
    orch.env["ORCHTUI_SCRIPTED_SCENARIO"] = str(scenario)
    folder = orch.repo / ".orchtui" / "playbooks"
    folder.mkdir(parents=True)
    (folder / "custom.yaml").write_text(PLAYBOOK)
    run_id = orch.run("run", "custom", "--task", "drafts").stdout.strip()  # found by name in the repo
    wait_for(lambda: orch.json("runs")[0]["state"] in ("done", "paused"), timeout=60, interval=0.3)
    run = orch.json("runs")[0]
    assert run["state"] == "done", run["detail"]

    # the draft stage worked in its own worktree and branch, merged back into the run's branch
    files = git(orch.repo, "ls-tree", "--name-only", "orchtui/drafts").split()
    assert {"base.txt", "GOOD.txt"} <= set(files) and "BAD.txt" not in files
    assert "orchtui/drafts-draft" in git(orch.repo, "branch", "--format=%(refname:short)")
    # the failed attempt was reverted, and what it did is kept under a rescue ref
    ref = f"refs/orchtui/rescue/{run_id}-draft-1"
    assert git(orch.repo, "show", f"{ref}:BAD.txt") == "bad"
    kinds = [e["kind"] for e in orch.json("events") if e["data"].get("run") == run_id]
    assert "stage.reverted" in kinds and kinds.count("stage.retry") == 1

    # attempt 1 ended on STAGE-DONE while the agent was still busy (it hung for 3 s after)
    writer = next(s for s in orch.json("session", "list", "--all") if "draft-writer" in s["task"])
    first = next(r for r in orch.json("ledger", writer["id"]) if r["actor"].endswith(":draft:1:writer:0"))
    assert first["transitions"][-1]["cause"] == "completion marker seen"
    assert any(e["kind"] == "step.marker" for e in orch.json("events", writer["id"]))


def test_unknown_playbook_name_lists_where_it_looked(orch: Orch) -> None:
    proc = orch.run("run", "nowhere", "--task", "x", check=False)
    assert (
        proc.returncode == 2
        and "no playbook 'nowhere'" in proc.stderr
        and ".orchtui/playbooks" in proc.stderr
    )
