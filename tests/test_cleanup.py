"""No path deletes a branch or a worktree with unmerged or uncommitted work without an
explicit confirmation; confirmed losses are still kept under rescue refs."""

from __future__ import annotations

from pathlib import Path

from libtmux import Server

from helpers import Orch, git, pane_text, run_in_terminal, wait_for


def ended_session(orch: Orch, task: str) -> tuple[str, Path]:
    sid = orch.new(task)
    wt = Path(orch.show(sid)["worktree"])
    orch.run("session", "kill", sid, "--keep-worktree")
    return sid, wt


def commit_file(wt: Path, name: str, text: str) -> str:
    (wt / name).write_text(text)
    git(wt, "add", name)
    git(wt, "commit", "-q", "-m", f"feat: {name}")
    return git(wt, "rev-parse", "HEAD")


def branches(repo: Path) -> str:
    return git(repo, "for-each-ref", "refs/heads", "--format=%(refname) %(objectname)")


def test_kill_refuses_a_dirty_worktree_without_force(orch: Orch) -> None:
    sid = orch.new("dirty-kill")
    wt = Path(orch.show(sid)["worktree"])
    (wt / "wip.txt").write_text("wip\n")
    proc = orch.run("session", "kill", sid, check=False)
    assert proc.returncode == 4 and "wip.txt" in proc.stderr
    assert (wt / "wip.txt").exists() and orch.status(sid) != "killed"


def test_archive_asks_before_losing_uncommitted_work(orch: Orch) -> None:
    sid, wt = ended_session(orch, "dirty-archive")
    (wt / "wip.txt").write_text("wip\n")
    refused = orch.run("worktree", "archive", sid, check=False)
    assert refused.returncode == 4
    assert "1 uncommitted change(s) (wip.txt)" in refused.stderr and "--yes" in refused.stderr
    assert (wt / "wip.txt").read_text() == "wip\n"
    out = orch.json("worktree", "archive", sid, "--yes")
    assert out["state"] == "removed" and not wt.exists()
    assert git(orch.repo, "show", f"{out['rescue_refs'][0]}:wip.txt") == "wip"
    assert "refs/heads/orchtui/dirty-archive" in branches(orch.repo)  # archiving keeps the branch


def test_archive_and_delete_ask_when_commits_are_not_on_the_target(orch: Orch) -> None:
    sid, wt = ended_session(orch, "unmerged")
    head = commit_file(wt, "work.txt", "work\n")
    for verb in ("archive", "delete"):
        refused = orch.run("worktree", verb, sid, check=False)
        assert refused.returncode == 4, verb
        assert "1 commit(s) not on main" in refused.stderr and "feat: work.txt" in refused.stderr
        assert wt.exists() and git(orch.repo, "rev-parse", "orchtui/unmerged") == head
    out = orch.json("worktree", "delete", sid, "--yes")
    assert out["state"] == "deleted" and not wt.exists()
    assert "orchtui/unmerged" not in branches(orch.repo)
    assert git(orch.repo, "rev-parse", out["rescue_refs"][0]) == head  # still recoverable


def test_delete_after_a_merge_needs_no_confirmation(orch: Orch) -> None:
    sid, wt = ended_session(orch, "merged")
    commit_file(wt, "done.txt", "done\n")
    assert orch.json("merge", "start", sid)["state"] == "merged"
    out = orch.json("worktree", "delete", sid)
    assert out == {"worktree": str(wt), "branch": "orchtui/merged", "state": "deleted", "rescue_refs": []}
    assert "orchtui/merged" not in branches(orch.repo)
    # squash-merged: no ancestry, but the landed tip is on record
    sq, wt2 = ended_session(orch, "squashed")
    commit_file(wt2, "sq.txt", "sq\n")
    orch.run("merge", "start", sq, "--strategy", "squash")
    assert orch.json("worktree", "delete", sq)["rescue_refs"] == []
    # merged, then more work: asks again
    more, wt3 = ended_session(orch, "more")
    commit_file(wt3, "a.txt", "a\n")
    orch.run("merge", "start", more)
    commit_file(wt3, "b.txt", "b\n")
    refused = orch.run("worktree", "delete", more, check=False)
    assert refused.returncode == 4 and "feat: b.txt" in refused.stderr


def test_cleanup_refuses_while_a_session_runs_in_the_worktree(orch: Orch) -> None:
    sid = orch.new("live")
    before = branches(orch.repo)
    for verb in ("archive", "delete"):
        proc = orch.run("worktree", verb, sid, "--yes", check=False)
        assert proc.returncode == 4 and "still run in it" in proc.stderr
    assert branches(orch.repo) == before and Path(orch.show(sid)["worktree"]).exists()
    listed = orch.json("worktree", "list")
    assert [(w["session"], w["branch"], w["uncommitted"], w["unmerged"]) for w in listed] == [
        (sid, "orchtui/live", 0, 0)
    ]


def test_on_a_terminal_delete_says_what_would_be_lost_and_asks(orch: Orch, terminal: Server) -> None:
    sid, wt = ended_session(orch, "asked")
    head = commit_file(wt, "work.txt", "work\n")
    (wt / "wip.txt").write_text("wip\n")
    run_in_terminal(terminal, orch, "worktree", "delete", sid)
    question = wait_for(lambda: "Go ahead?" in (text := pane_text(terminal)) and text, timeout=30)
    assert "Deleting orchtui/asked would lose 1 uncommitted change(s) (wip.txt)" in question.replace("\n", "")
    assert "1 commit(s) not on main" in question.replace("\n", "")
    terminal.cmd("send-keys", "-t", "term", "n", "Enter")  # no: nothing happens, the command ends
    wait_for(lambda: not terminal.has_session("term"), timeout=30)
    assert wt.exists() and (wt / "wip.txt").exists() and git(orch.repo, "rev-parse", "orchtui/asked") == head
