"""What a worktree changed against its base: files with +/- counts, per-file unified
diffs, its commits; and committing it (orchtui's own commits, rewording agents' ones).

Reads take no optional locks (`READ_ONLY`), so the diff view never fights an agent's
commit over `index.lock`. Commit messages go to git on stdin, never through a shell.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchtui.runtime.git import READ_ONLY, GitError, run_git

UNTRACKED_LIMIT = 1024 * 1024  # bytes of an untracked file shown in a diff
PATCH_LIMIT = 32 * 1024 * 1024  # characters of a whole-worktree patch fetched in one go


@dataclass(frozen=True)
class FileChange:
    path: str
    added: int
    deleted: int
    status: str  # modified | added | deleted | renamed | untracked | binary

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "added": self.added, "deleted": self.deleted, "status": self.status}


@dataclass(frozen=True)
class AgentCommit:
    sha: str
    message: str
    author: str

    @property
    def subject(self) -> str:
        return self.message.splitlines()[0] if self.message else ""


def git(worktree: Path, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> str:
    """stdout of a git command that must succeed (reads take no optional locks)."""
    return run_git(worktree, *args, input=input, env=env or READ_ONLY).stdout


def merge_base(worktree: Path, base: str) -> str:
    return git(worktree, "merge-base", base, "HEAD").strip()


def changed_files(worktree: Path, base: str) -> list[FileChange]:
    """Everything in the worktree (committed or not, untracked too) against where it left `base`."""
    since = merge_base(worktree, base)
    names = dict(_name_status(git(worktree, "diff", "--name-status", "-z", "-M", since)))
    changes: list[FileChange] = []
    for added, deleted, path in _numstat(worktree, since):
        binary = added == "-"
        status = "binary" if binary else names.get(path, "modified")
        changes.append(FileChange(path, 0 if binary else int(added), 0 if binary else int(deleted), status))
    for path in git(worktree, "ls-files", "--others", "--exclude-standard", "-z").split("\0"):
        if path:
            changes.append(FileChange(path, _line_count(worktree / path), 0, "untracked"))
    return sorted(changes, key=lambda c: c.path)


def _numstat(worktree: Path, since: str) -> list[tuple[str, str, str]]:
    """(added, deleted, path) per changed tracked file, in git's order ("-" counts: binary)."""
    fields = git(worktree, "diff", "--numstat", "-z", "-M", since).split("\0")
    rows: list[tuple[str, str, str]] = []
    i = 0
    while i < len(fields) - 1:
        if not fields[i]:
            i += 1
            continue
        added, deleted, path = fields[i].split("\t", 2)
        if not path:  # a rename: the two names follow as their own fields
            path, i = fields[i + 2], i + 3
        else:
            i += 1
        rows.append((added, deleted, path))
    return rows


def _name_status(out: str) -> list[tuple[str, str]]:
    kinds = {"A": "added", "D": "deleted", "M": "modified", "R": "renamed", "C": "added", "T": "modified"}
    fields = out.split("\0")
    pairs: list[tuple[str, str]] = []
    i = 0
    while i < len(fields) - 1:
        code = fields[i]
        if code[:1] in ("R", "C"):
            pairs.append((fields[i + 2], kinds[code[0]]))
            i += 3
        else:
            pairs.append((fields[i + 1], kinds.get(code[:1], "modified")))
            i += 2
    return pairs


def _line_count(path: Path) -> int:
    try:
        data = path.read_bytes()[:UNTRACKED_LIMIT]
    except OSError:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)


def file_diff(worktree: Path, base: str, change: FileChange) -> str:
    """One file's unified diff against the merge base (untracked files as all-new)."""
    if change.status == "untracked":
        proc = subprocess.run(
            ["git", "diff", "--no-index", "--", os.devnull, change.path],
            cwd=worktree,
            capture_output=True,
            text=True,
            errors="replace",
            env=READ_ONLY,
            check=False,
        )
        return proc.stdout[: UNTRACKED_LIMIT * 2]
    since = merge_base(worktree, base)
    return git(worktree, "diff", "-M", since, "--", change.path)


def all_diffs(worktree: Path, base: str, limit: int = PATCH_LIMIT) -> dict[str, str]:
    """Every tracked file's diff from one `git diff`, keyed by path (git lists files in the
    same order for --numstat and for the patch). Empty when the patch is over `limit`
    characters or cannot be split safely: callers then fetch files one by one."""
    since = merge_base(worktree, base)
    names = [path for _, _, path in _numstat(worktree, since)]
    patch = git(worktree, "diff", "-M", since)
    if len(patch) > limit:
        return {}
    chunks = ["diff --git " + c for c in patch.split("\ndiff --git ")]
    chunks[0] = chunks[0].removeprefix("diff --git ")
    if not patch or len(chunks) != len(names):
        return {}
    return {
        name: chunk if chunk.endswith("\n") else chunk + "\n"
        for name, chunk in zip(names, chunks, strict=True)
    }


def commits_since(worktree: Path, base: str) -> list[AgentCommit]:
    """The branch's own commits, oldest first."""
    out = git(worktree, "log", "--reverse", "-z", "--format=%H%x1f%an <%ae>%x1f%B", f"{base}..HEAD")
    commits = []
    for entry in out.split("\0"):
        if entry.strip():
            sha, author, message = entry.strip("\n").split("\x1f", 2)
            commits.append(AgentCommit(sha, message.strip(), author))
    return commits


def commit_all(worktree: Path, message: str) -> tuple[str, list[FileChange]]:
    """Stage everything and commit with `message`; the new commit and what it changed."""
    env = dict(os.environ)
    git(worktree, "add", "-A", env=env)
    if not git(worktree, "diff", "--cached", "--name-only", env=env).strip():
        raise GitError(f"nothing to commit in {worktree}")
    git(worktree, "commit", "-q", "-F", "-", input=message, env=env)
    sha = git(worktree, "rev-parse", "HEAD").strip()
    return sha, commit_files(worktree, sha)


def commit_files(worktree: Path, sha: str) -> list[FileChange]:
    out = git(worktree, "diff-tree", "--root", "-r", "--numstat", "-M", "--no-commit-id", sha)
    files = []
    for line in out.splitlines():
        added, deleted, path = line.split("\t", 2)
        binary = added == "-"
        files.append(
            FileChange(
                path,
                0 if binary else int(added),
                0 if binary else int(deleted),
                "binary" if binary else "modified",
            )
        )
    return files


def reword(worktree: Path, base: str, fix: Callable[[AgentCommit], str | None]) -> dict[str, str]:
    """Rewrite the branch's commits since `base` whose message `fix` replaces (trees and
    authors kept, linear history only); returns old sha -> new sha. The branch moves only
    if nobody moved it meanwhile."""
    commits = commits_since(worktree, base)
    if any(len(git(worktree, "rev-list", "--parents", "-n1", c.sha).split()) != 2 for c in commits):
        raise GitError("the branch has merge commits; not rewording")
    head = git(worktree, "rev-parse", "HEAD").strip()
    mapping: dict[str, str] = {}
    changed = False
    for c in commits:
        original_parent = git(worktree, "rev-parse", f"{c.sha}^").strip()
        parent = mapping.get(original_parent, original_parent)
        new_message = fix(c)
        if new_message is None and not changed:
            mapping[c.sha] = c.sha
            continue
        changed = True
        fmt = git(worktree, "log", "-1", "--format=%an%x00%ae%x00%aI", c.sha).strip("\n").split("\0")
        env = {**os.environ, "GIT_AUTHOR_NAME": fmt[0], "GIT_AUTHOR_EMAIL": fmt[1], "GIT_AUTHOR_DATE": fmt[2]}
        tree = git(worktree, "rev-parse", f"{c.sha}^{{tree}}").strip()
        mapping[c.sha] = git(
            worktree,
            "commit-tree",
            tree,
            "-p",
            parent,
            "-F",
            "-",
            input=new_message or c.message + "\n",
            env=env,
        ).strip()
    if changed:
        new_head = mapping[commits[-1].sha]
        git(
            worktree,
            "update-ref",
            "-m",
            "orchtui: reword agent commits",
            "HEAD",
            new_head,
            head,
            env=dict(os.environ),
        )
    return {old: new for old, new in mapping.items() if old != new}
