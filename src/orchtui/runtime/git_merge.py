"""Landing a branch on its target (merge, squash or rebase) without touching anybody's
working tree, and the worktree a conflict is resolved in.

The new target commit is computed first (`merge-tree`, or a cherry-pick in a throwaway
worktree for rebase); only then does the target move, by compare-and-swap on its old tip,
or by a fast-forward where the target is checked out (and clean). A conflict moves nothing.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from orchtui.runtime.git import GitError, GitRepo, run_git

MARKER = re.compile(r"^(<{7} |={7}$|>{7} )", re.MULTILINE)


@dataclass
class Landing:
    commit: str | None  # the target's new tip, when it landed
    conflicts: list[str] = field(default_factory=list)
    old_tip: str = ""


def tip(repo: GitRepo, branch: str) -> str:
    return run_git(repo.root, "rev-parse", f"refs/heads/{branch}").stdout.strip()


def is_merged(repo: GitRepo, branch: str, target: str) -> bool:
    """Every commit of `branch` is on `target` (ancestry)."""
    proc = run_git(
        repo.root, "merge-base", "--is-ancestor", f"refs/heads/{branch}", f"refs/heads/{target}", check=False
    )
    return proc.returncode == 0


def contains(repo: GitRepo, commit: str, ancestor: str) -> bool:
    return run_git(repo.root, "merge-base", "--is-ancestor", ancestor, commit, check=False).returncode == 0


def unmerged_commits(repo: GitRepo, branch: str, target: str) -> list[str]:
    """`sha subject` of the branch's commits not on the target (patch-equivalent ones count as on it)."""
    out = run_git(
        repo.root,
        "log",
        "--cherry-pick",
        "--right-only",
        "--no-merges",
        "--format=%h %s",
        f"{target}...{branch}",
    )
    return [line for line in out.stdout.splitlines() if line.strip()]


def conflicts(repo: GitRepo, target: str, branch: str) -> list[str]:
    proc = run_git(
        repo.root, "merge-tree", "--write-tree", "--name-only", "--no-messages", target, branch, check=False
    )
    if proc.returncode == 0:
        return []
    if proc.returncode != 1:
        raise GitError(f"git merge-tree: {proc.stderr.strip()}")
    return [line for line in proc.stdout.splitlines()[1:] if line.strip()]


def land(repo: GitRepo, target: str, branch: str, message: str, strategy: str) -> Landing:
    """Put `branch` on `target` by `strategy`; a conflict leaves everything as it was."""
    old = tip(repo, target)
    found = conflicts(repo, target, branch)
    if found:
        return Landing(None, found, old)
    if strategy == "rebase":
        new = _rebased(repo, old, target, branch)
    else:
        tree = run_git(repo.root, "merge-tree", "--write-tree", target, branch).stdout.splitlines()[0]
        parents = ["-p", old] + (["-p", tip(repo, branch)] if strategy == "merge" else [])
        new = run_git(repo.root, "commit-tree", tree, *parents, "-F", "-", input=message).stdout.strip()
    move_target(repo, target, old, new)
    return Landing(new, [], old)


def merge_into(repo: GitRepo, target: str, branch: str, message: str) -> str:
    """A merge commit of `branch` on `target`; a conflict changes nothing and raises."""
    landing = land(repo, target, branch, message, "merge")
    if landing.commit is None:
        raise GitError(f"merge of {branch} into {target} conflicts in {', '.join(landing.conflicts)}")
    return landing.commit


def _rebased(repo: GitRepo, old: str, target: str, branch: str) -> str:
    """The branch's commits replayed on the target's tip, in a throwaway detached worktree."""
    with tempfile.TemporaryDirectory(prefix="orchtui-rebase-") as tmp:
        where = Path(tmp) / "wt"
        run_git(repo.root, "worktree", "add", "--detach", str(where), old)
        try:
            picks = run_git(
                repo.root, "rev-list", "--reverse", "--no-merges", f"{old}..{tip(repo, branch)}"
            ).stdout.split()
            if picks:
                proc = run_git(where, "cherry-pick", "--allow-empty", *picks, check=False)
                if proc.returncode != 0:
                    run_git(where, "cherry-pick", "--abort", check=False)
                    raise GitError(
                        f"rebase of {branch} onto {target} stopped: {proc.stderr.strip().splitlines()[-1:]}"
                    )
            return run_git(where, "rev-parse", "HEAD").stdout.strip()
        finally:
            run_git(repo.root, "worktree", "remove", "--force", str(where), check=False)


def move_target(repo: GitRepo, target: str, old: str, new: str) -> None:
    """Move `target` from `old` to `new`: a fast-forward where it is checked out (which must
    be clean), else a compare-and-swap of the ref."""
    where = repo.checked_out_at(target)
    if where is not None:
        if GitRepo.dirty_files(where, untracked=False):
            raise GitError(f"{target} is checked out at {where} with uncommitted changes; not merging")
        if run_git(where, "rev-parse", "HEAD").stdout.strip() != old:
            raise GitError(f"{target} moved while merging; try again")
        run_git(where, "merge", "-q", "--ff-only", new)
        return
    proc = run_git(
        repo.root, "update-ref", "-m", "orchtui merge", f"refs/heads/{target}", new, old, check=False
    )
    if proc.returncode != 0:
        raise GitError(f"{target} moved while merging; try again")


# conflict resolution ----------------------------------------------------------
def open_resolution(repo: GitRepo, path: Path, branch: str, target: str, source: str) -> list[str]:
    """A new worktree on `branch` (at the target's tip) with the merge of `source` in
    progress; returns the conflicting files (their markers are in the worktree)."""
    repo.create_worktree(path, branch, target)
    run_git(path, "merge", "--no-ff", "--no-commit", source, check=False)
    unmerged = run_git(path, "diff", "--name-only", "--diff-filter=U").stdout.split("\n")
    return [f for f in unmerged if f]


def markers_left(worktree: Path, files: list[str]) -> list[str]:
    """Files still holding conflict markers, among the conflicted ones and whatever the index
    still lists as unmerged (an unmerged file without markers counts as resolved: `conclude`
    stages it)."""
    unmerged = [
        f for f in run_git(worktree, "diff", "--name-only", "--diff-filter=U").stdout.split("\n") if f
    ]
    left: set[str] = set()
    for name in sorted(set(files) | set(unmerged)):
        path = worktree / name
        try:
            if path.is_file() and MARKER.search(path.read_text(encoding="utf-8", errors="replace")):
                left.add(name)
        except OSError:
            continue
    return sorted(left)


def merge_in_progress(worktree: Path) -> bool:
    return run_git(worktree, "rev-parse", "-q", "--verify", "MERGE_HEAD", check=False).returncode == 0


def conclude(worktree: Path, message: str) -> str:
    """Commit the resolved merge in the resolver worktree (unless the resolver did)."""
    if merge_in_progress(worktree):
        run_git(worktree, "add", "-A")
        run_git(worktree, "commit", "-q", "--no-edit", "-F", "-", input=message)
    return run_git(worktree, "rev-parse", "HEAD").stdout.strip()


def abandon(worktree: Path) -> None:
    if merge_in_progress(worktree):
        run_git(worktree, "merge", "--abort", check=False)


def parents(repo: GitRepo, commit: str) -> list[str]:
    return run_git(repo.root, "rev-list", "--parents", "-n1", commit).stdout.split()[1:]


def tree_of(repo: GitRepo, commit: str) -> str:
    return run_git(repo.root, "rev-parse", f"{commit}^{{tree}}").stdout.strip()


def squash_of(repo: GitRepo, commit: str, parent: str, message: str) -> str:
    return run_git(
        repo.root, "commit-tree", tree_of(repo, commit), "-p", parent, "-F", "-", input=message
    ).stdout.strip()
