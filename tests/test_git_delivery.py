"""Git delivery on real repositories: commit policy, protected branches, merges with
required checks, the conflict-resolution loop (scripted resolver) and aborting it."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import FIXTURES, Orch, git, wait_for
from orchtui.store.merges import Merges
from orchtui.store.records import Records

SCENARIO = FIXTURES / "scenarios" / "git.toml"


@pytest.fixture
def gorch(orch: Orch) -> Orch:
    orch.env["ORCHTUI_SCRIPTED_SCENARIO"] = str(SCENARIO)
    (orch.repo / "shared.txt").write_text("one\ntwo\nthree\n")
    git(orch.repo, "add", "shared.txt")
    git(orch.repo, "commit", "-q", "-m", "shared file")
    return orch


def policy(orch: Orch, text: str) -> None:
    """A repository policy in the repository's own .orchtui.toml (committed)."""
    (orch.repo / ".orchtui.toml").write_text(text)
    git(orch.repo, "add", ".orchtui.toml")
    git(orch.repo, "commit", "-q", "-m", "policy")
    orch.run("trust")  # its required checks run only once trusted (tests/test_trust.py)


def worktree(orch: Orch, sid: str) -> Path:
    return Path(orch.show(sid)["worktree"])


def session_done(orch: Orch, sid: str, prompt: str) -> None:
    """Send a prompt and wait until its ledger row is final."""
    orch.run("session", "send", sid, prompt)
    wait_for(lambda: all(r.state == "done" for r in orch.ledger_rows(sid) if r.kind == "prompt"), timeout=30)


def tip(repo: Path, ref: str) -> str:
    return git(repo, "rev-parse", ref)


def test_commit_message_policy_accepted_and_refused(gorch: Orch) -> None:
    sid = gorch.new("notes")
    wt = worktree(gorch, sid)
    (wt / "notes.txt").write_text("hello\n")
    out = gorch.json("commit", sid, "-m", "add notes")
    assert out["subject"] == "feat: add notes"
    assert out["commit"] == tip(wt, "HEAD")
    assert out["files"] == [{"path": "notes.txt", "added": 1, "deleted": 0, "status": "modified"}]
    body = git(wt, "log", "-1", "--format=%B")
    assert (
        f"Orchtui-Session: {sid}" in body
        and "Orchtui-Task: notes" in body
        and "Orchtui-Agent: scripted" in body
    )
    assert [r.kind for r in gorch.ledger_rows(sid)] == ["commit"]
    # nothing left to commit: a clear refusal, no new commit
    again = gorch.run("commit", sid, "-m", "again", check=False)
    assert again.returncode != 0 and "nothing to commit" in again.stderr

    # a template that breaks Conventional Commits is refused with the rule
    (wt / "notes.txt").write_text("hello again\n")
    refused = gorch.run(
        "commit", sid, "-m", "more", check=False, env={"ORCHTUI_GIT__COMMIT_TEMPLATE": "{summary}"}
    )
    assert refused.returncode == 4
    assert "'more' is not a Conventional Commit" in refused.stderr and "git.commit_style" in refused.stderr
    assert tip(wt, "HEAD") == out["commit"]
    # a regex style from the repository's policy, accepted
    policy(gorch, '[git]\ncommit_style = "regex"\ncommit_pattern = "^\\\\[[A-Z]+-[0-9]+\\\\] "\n')
    ok = gorch.json("commit", sid, "-m", "more", env={"ORCHTUI_GIT__COMMIT_TEMPLATE": "[CALC-7] {summary}"})
    assert ok["subject"] == "[CALC-7] more"
    (wt / "notes.txt").write_text("third\n")
    bad = gorch.run("commit", sid, "-m", "more", check=False)  # default template "feat: …" breaks the regex
    assert bad.returncode == 4 and "does not match git.commit_pattern" in bad.stderr
    empty = gorch.run("commit", sid, "-m", "  ", check=False)
    assert empty.returncode == 2 and "summary is empty" in empty.stderr


def test_agent_commits_are_checked_and_optionally_reworded(gorch: Orch) -> None:
    sid = gorch.new("bee")
    session_done(gorch, sid, "edit-b")
    wt = worktree(gorch, sid)
    agent_sha = tip(wt, "HEAD")
    (wt / "more.txt").write_text("x\n")
    out = gorch.json("commit", sid, "-m", "more")
    assert out["agent_violations"] and out["agent_violations"][0].startswith(agent_sha[:10])
    assert "is not a Conventional Commit" in out["agent_violations"][0]
    events = [e for e in gorch.json("events") if e["kind"] == "git.policy"]
    assert len(events) == 1 and events[0]["data"]["commit"] == agent_sha
    tree_before = git(wt, "rev-parse", "HEAD^{tree}")
    (wt / "last.txt").write_text("y\n")
    amended = gorch.json("commit", sid, "-m", "last", "--amend-agent-commits")
    subjects = git(wt, "log", "--format=%s", "main..HEAD").splitlines()
    assert subjects == ["feat: last", "feat: more", "feat: B changes line two"]
    assert amended["commit"] == tip(wt, "HEAD")
    assert git(wt, "rev-parse", "HEAD~1^{tree}") == tree_before  # trees kept, only messages changed
    assert len([e for e in gorch.json("events") if e["kind"] == "git.policy"]) == 1  # reported once


def test_a_session_cannot_change_a_protected_branch(gorch: Orch) -> None:
    git(gorch.repo, "branch", "release/1")
    hook = gorch.repo / ".git" / "hooks" / "post-commit"
    hook.write_text('#!/bin/sh\necho ran >> "$(git rev-parse --git-common-dir)/user-hook-ran"\n')
    hook.chmod(0o755)
    main_before, release_before = tip(gorch.repo, "main"), tip(gorch.repo, "release/1")
    sid = gorch.new("guarded")
    session_done(gorch, sid, "protect")
    screen = gorch.run("session", "show", sid, "--screen").stdout
    assert "git update-ref refs/heads/main HEAD: exit 1" in screen
    assert "git branch -f release/1 HEAD: exit" in screen and "is protected" in screen
    assert tip(gorch.repo, "main") == main_before and tip(gorch.repo, "release/1") == release_before
    assert (gorch.repo / ".git" / "user-hook-ran").read_text() == "ran\n"  # the user's own hook still ran
    # the agent's own commit landed on its branch; main changes only through an orchtui merge
    merged = gorch.json("merge", "start", sid)
    assert merged["state"] == "merged" and tip(gorch.repo, "main") == merged["commit"]
    assert (gorch.repo / "agent.txt").read_text() == "agent work\n"  # main's checkout fast-forwarded


def test_clean_merge_lands_only_after_required_checks_pass(gorch: Orch) -> None:
    policy(gorch, '[git]\nrequired_checks = [{ type = "command", run = "grep -q ok checked.txt" }]\n')
    sid = gorch.new("checked")
    wt = worktree(gorch, sid)
    (wt / "checked.txt").write_text("not yet\n")
    dirty = gorch.run("merge", "start", sid, check=False)
    assert dirty.returncode == 4 and "uncommitted change" in dirty.stderr
    gorch.run("commit", sid, "-m", "checked file")
    before = tip(gorch.repo, "main")
    refused = gorch.run("merge", "start", sid, check=False)
    assert refused.returncode == 4 and "required check (command) failed" in refused.stderr
    assert tip(gorch.repo, "main") == before
    (wt / "checked.txt").write_text("ok\n")
    gorch.run("commit", sid, "-m", "make the check pass")
    out = gorch.json("merge", "start", sid)
    assert out["state"] == "merged" and out["strategy"] == "merge"
    assert git(gorch.repo, "rev-list", "--parents", "-n1", "main").split()[1:] == [before, tip(wt, "HEAD")]
    assert [r.kind for r in gorch.ledger_rows(sid)][-1] == "merge"
    assert any(e["kind"] == "git.merged" for e in gorch.json("events"))
    nothing = gorch.run("merge", "start", sid, check=False)
    assert nothing.returncode == 4 and "nothing to merge" in nothing.stderr
    # squash: one commit with one parent
    sq = gorch.new("squashed")
    (worktree(gorch, sq) / "checked.txt").write_text("ok, squashed\n")
    gorch.run("commit", sq, "-m", "squash me")
    base = tip(gorch.repo, "main")
    out = gorch.json("merge", "start", sq, "--strategy", "squash")
    assert git(gorch.repo, "rev-list", "--parents", "-n1", "main").split()[1:] == [base]
    assert git(gorch.repo, "log", "-1", "--format=%s", "main") == "feat: squashed"


def two_conflicting_sessions(orch: Orch) -> tuple[str, str]:
    a, b = orch.new("alpha"), orch.new("beta")
    session_done(orch, a, "edit-a")
    session_done(orch, b, "edit-b")
    assert orch.json("merge", "start", a)["state"] == "merged"
    return a, b


def test_conflicting_merge_goes_through_the_resolver_loop(gorch: Orch) -> None:
    _, b = two_conflicting_sessions(gorch)
    main_before, b_tip = tip(gorch.repo, "main"), tip(worktree(gorch, b), "HEAD")
    out = gorch.json("merge", "start", b, "--resolver", "scripted")
    assert out["state"] == "resolving" and out["conflicts"] == ["shared.txt"]
    assert tip(gorch.repo, "main") == main_before  # the target is untouched while resolving
    assert any(e["kind"] == "merge.conflict" for e in gorch.json("events"))
    store = gorch.store
    try:
        row = wait_for(
            lambda: Merges(store).get(out["id"]) if Merges(store).get(out["id"]).state == "merged" else None,
            timeout=60,
        )
    finally:
        store.close()
    assert row.attempts == 1  # the first turn left markers; told so, the resolver fixed them
    resolver = out["resolver_session"]
    prompts = [r for r in gorch.ledger_rows(resolver) if r.kind == "prompt"]
    assert len(prompts) == 2 and "is not finished" in prompts[1].text and "shared.txt" in prompts[1].text
    assert git(gorch.repo, "rev-list", "--parents", "-n1", "main").split()[1:] == [main_before, b_tip]
    text = (gorch.repo / "shared.txt").read_text()
    assert text == "one\nchanged by A and B\nthree\n" and "<<<<<<<" not in text
    assert tip(worktree(gorch, b), "HEAD") == b_tip  # the source worktree was never touched
    resolver_wt = gorch.show(resolver)["worktree"]
    assert not Path(resolver_wt).exists()
    assert "resolve" not in git(
        gorch.repo, "branch", "--list", "orchtui/resolve/*"
    )  # merged: nothing to keep
    assert gorch.status(resolver) == "killed"  # stopped once its merge landed


def repo_state(repo: Path, *worktrees: Path) -> dict[str, object]:
    """Everything an aborted merge must leave as it was: refs, checkouts and their files."""
    return {
        "branches": git(repo, "for-each-ref", "refs/heads", "--format=%(refname) %(objectname)"),
        "checkouts": [
            (tip(where, "HEAD"), git(where, "status", "--porcelain"), (where / "shared.txt").read_text())
            for where in (repo, *worktrees)
        ],
    }


def test_aborted_loop_leaves_target_and_worktrees_unchanged(gorch: Orch) -> None:
    a, b = two_conflicting_sessions(gorch)
    wt_a, wt_b = worktree(gorch, a), worktree(gorch, b)
    before = repo_state(gorch.repo, wt_a, wt_b)
    out = gorch.json("merge", "start", b)  # no resolver configured: the operator resolves
    assert out["state"] == "resolving" and out["resolver_session"] is None
    resolver_wt = Path(_resolver_path(gorch, out["id"]))
    assert "<<<<<<<" in (resolver_wt / "shared.txt").read_text()
    (resolver_wt / "shared.txt").write_text("half done\n")  # the operator's partial work
    aborted = gorch.json("merge", "abort", str(out["id"]))
    assert aborted["state"] == "aborted" and "refs/orchtui/rescue/merge-" in aborted["detail"]
    after = repo_state(gorch.repo, wt_a, wt_b)
    assert after == before
    assert not resolver_wt.exists()
    rescue = f"refs/orchtui/rescue/merge-{out['id']}"
    assert git(gorch.repo, "show", f"{rescue}:shared.txt") == "half done"
    assert gorch.run("merge", "abort", str(out["id"]), check=False).returncode == 4


def _resolver_path(orch: Orch, merge_id: int) -> str:
    rows = orch.json("merge", "list")
    assert rows and rows[0]["id"] == merge_id
    store = orch.store
    try:
        row = Merges(store).get(merge_id)
        return Records(store).worktree(row.resolver_worktree_id or 0).path
    finally:
        store.close()


def test_markers_left_block_continue(gorch: Orch) -> None:
    _, b = two_conflicting_sessions(gorch)
    out = gorch.json("merge", "start", b)
    path = Path(_resolver_path(gorch, out["id"]))
    blocked = gorch.run("merge", "continue", str(out["id"]), check=False)
    assert blocked.returncode == 4 and "conflicts left in shared.txt" in blocked.stderr
    (path / "shared.txt").write_text("one\nresolved by hand\nthree\n")
    landed = gorch.json("merge", "continue", str(out["id"]))
    assert landed["state"] == "merged"
    assert (gorch.repo / "shared.txt").read_text() == "one\nresolved by hand\nthree\n"
    assert landed["conflicts"] == ["shared.txt"]


def test_a_run_merge_stage_conflict_is_resolved_by_the_playbook_resolver(gorch: Orch, tmp_path: Path) -> None:
    book = tmp_path / "conflict.yaml"
    book.write_text(
        "name: conflict\n"
        "stages:\n"
        "  - id: build\n"
        "    automation: fully_auto\n"
        "    roles: [{role: implementer, agents: [scripted], prompt: 'edit-b now'}]\n"
        "  - id: merge\n"
        "    automation: human_approval\n"
        "    merge: true\n"
        "    roles: [{role: resolver, agents: [scripted], skill: resolve-conflict}]\n"
    )
    run_id = gorch.run("run", str(book), "--task", "clash").stdout.strip()
    pending = wait_for(
        lambda: [a for a in gorch.json("approvals") if a["stage"] == "merge"], timeout=60, interval=0.3
    )
    (gorch.repo / "shared.txt").write_text("one\nchanged on main\nthree\n")  # meanwhile, on main
    git(gorch.repo, "commit", "-qam", "fix: main changes line two")
    main_before = tip(gorch.repo, "main")
    gorch.run("approve", str(pending[0]["id"]))
    wait_for(lambda: gorch.json("runs")[0]["state"] == "done", timeout=90, interval=0.3)
    merges = gorch.json("merge", "list", "--all")
    assert [(m["run"], m["state"], m["conflicts"], m["attempts"]) for m in merges] == [
        (run_id, "merged", ["shared.txt"], 1)
    ]
    assert git(gorch.repo, "rev-parse", "main^1") == main_before
    assert (gorch.repo / "shared.txt").read_text() == "one\nchanged by A and B\nthree\n"
    resolver = next(s for s in gorch.json("session", "list", "--all") if s["role"] == "resolver")
    assert resolver["run"] == run_id and resolver["id"] == merges[0]["resolver_session"]
