"""Git worktrees through GitPython: one worktree and branch per agent session.

Nothing here deletes a branch, and a worktree with uncommitted changes is only removed
when the caller forces it, after its state was saved to a rescue ref.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import git
from git.exc import GitCommandError, InvalidGitRepositoryError, NoSuchPathError

from orchtui.errors import OrchtuiError, UsageError


class GitError(OrchtuiError):
    pass


def _err(exc: GitCommandError) -> str:
    text = (exc.stderr or str(exc)).strip().splitlines()
    lines = [ln.strip().removeprefix("stderr: ").strip("'").strip() for ln in text if ln.strip()]
    return lines[-1] if lines else str(exc)


# Read-only git calls take no optional locks: a `git status` refreshing the index must
# never make a concurrent commit, rescue or worktree removal fail on index.lock.
READ_ONLY = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}


def run_git(
    cwd: Path, *args: str, check: bool = True, input: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """git as a plain process (no shell); with `check`, a failure raises its last line."""
    proc = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, input=input, env=env, check=False
    )
    if check and proc.returncode != 0:
        last = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or [""]
        raise GitError(f"git {args[0]}: {last[0]}")
    return proc


class GitRepo:
    def __init__(self, path: Path) -> None:
        try:
            self.repo = git.Repo(path, search_parent_directories=True)
        except (InvalidGitRepositoryError, NoSuchPathError):
            raise UsageError(f"{path}: not inside a git repository") from None
        if self.repo.working_tree_dir is None:
            raise UsageError(f"{path}: a bare repository has no working tree")
        self.root = Path(self.repo.working_tree_dir).resolve()

    def version(self) -> str:
        return ".".join(str(p) for p in self.repo.git.version_info)

    def current_branch(self) -> str:
        try:
            return str(self.repo.active_branch.name)
        except TypeError:  # detached HEAD
            return str(self.repo.head.commit.hexsha)

    def resolve_base(self, base: str | None) -> str:
        if self.repo.head.is_valid() is False:
            raise UsageError(f"{self.root}: the repository has no commits yet; commit something first")
        if base is None and self.repo.head.is_detached:
            raise UsageError(f"{self.root}: HEAD is detached; name the base branch with --base")
        name = base or self.current_branch()
        for ref in (f"refs/heads/{name}", f"refs/remotes/{name}"):
            try:
                self.repo.git.show_ref("--verify", "--quiet", ref)  # exactly this ref, no expression
                return name
            except GitCommandError:
                continue
        raise UsageError(
            f"--base {name!r} is not a branch of {self.root} (a local or remote-tracking branch "
            "name; not HEAD, a tag, a full ref or an expression like main~1)"
        )

    def branch_exists(self, branch: str) -> bool:
        try:
            self.repo.git.rev_parse("--verify", "--quiet", f"refs/heads/{branch}")
            return True
        except GitCommandError:
            return False

    def create_worktree(self, path: Path, branch: str, base: str) -> None:
        if self.branch_exists(branch):
            raise UsageError(f"branch {branch!r} already exists; choose another task name")
        if path.exists():
            raise UsageError(f"worktree path {path} already exists")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.repo.git.worktree("add", "-b", branch, str(path), base)
        except GitCommandError as exc:
            raise GitError(f"git worktree add: {_err(exc)}") from None

    def copy_into(self, worktree: Path, files: list[str]) -> list[str]:
        """Copy untracked files (like `.env`) from the main checkout; returns those copied."""
        copied = []
        for rel in files:
            source = (self.root / rel).resolve()
            target = (worktree / rel).resolve()
            if not source.is_relative_to(self.root) or not target.is_relative_to(worktree.resolve()):
                raise UsageError(f"worktrees.copy_files: {rel!r} points outside the repository")
            if source.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
                copied.append(rel)
        return copied

    @staticmethod
    def run_setup(worktree: Path, command: str, timeout: float) -> None:
        try:
            proc = subprocess.run(
                command,
                shell=True,
                cwd=worktree,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise GitError(f"setup command timed out after {timeout:.0f}s: {command}") from None
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
            raise GitError(f"setup command failed (exit {proc.returncode}): {tail[0]}")

    @staticmethod
    def dirty_files(worktree: Path, untracked: bool = True) -> list[str]:
        """Uncommitted changes, untracked files included unless told not to (porcelain lines)."""
        if not worktree.exists():
            return []
        which = "--untracked-files=all" if untracked else "--untracked-files=no"
        out = git.Repo(worktree).git.status("--porcelain", which, env=READ_ONLY)
        return [line for line in out.splitlines() if line.strip()]

    @staticmethod
    def rescue(worktree: Path, ref: str) -> str:
        """Save the worktree's full state (untracked files too) as a commit under `ref`,
        without touching the worktree, its index or its branch. Returns the commit."""
        repo = git.Repo(worktree)
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
            repo.git.read_tree("HEAD", env=env)
            repo.git.add("-A", env=env)
            tree = repo.git.write_tree(env=env)
            commit = repo.git.commit_tree(tree, "-p", "HEAD", "-m", f"orchtui rescue of {worktree}", env=env)
        repo.git.update_ref(ref, commit)
        return str(commit)

    @staticmethod
    def reset_to(worktree: Path, commit: str) -> None:
        """Discard everything after `commit` in this worktree (save it with `rescue` first)."""
        repo = git.Repo(worktree)
        repo.git.reset("--hard", commit)
        repo.git.clean("-fd")

    def remove_worktree(self, path: Path, force: bool = False) -> None:
        args = ["remove", *(["--force"] if force else []), str(path)]
        try:
            self.repo.git.worktree(*args)
        except GitCommandError as exc:
            raise GitError(f"git worktree remove: {_err(exc)}") from None

    def commits_between(self, base: str, branch: str, limit: int = 10) -> list[str]:
        """`branch`'s commits that `base` lacks, newest first, one line each (hash, subject)."""
        try:
            out = self.repo.git.log("--oneline", f"-{limit}", f"{base}..{branch}", "--", env=READ_ONLY)
        except GitCommandError:
            return []
        return [line for line in out.splitlines() if line.strip()]

    def ahead_behind(self, branch: str, base: str) -> tuple[int, int]:
        out = self.repo.git.rev_list("--left-right", "--count", f"{branch}...{base}")
        ahead, behind = out.split()
        return int(ahead), int(behind)

    def checked_out_at(self, branch: str) -> Path | None:
        """The worktree where `branch` is checked out, if any."""
        current: Path | None = None
        for line in self.repo.git.worktree("list", "--porcelain").splitlines():
            if line.startswith("worktree "):
                current = Path(line.removeprefix("worktree "))
            elif line == f"branch refs/heads/{branch}":
                return current
        return None


def repo_root(path: Path) -> Path:
    """The work tree of the repository `path` is in; UsageError outside one."""
    return GitRepo(path).root


def current_branch(path: Path) -> str:
    """The branch checked out at `path`, or its commit when the HEAD is detached."""
    return GitRepo(path).current_branch()


def branch_facts(path: Path, branch: str, base: str) -> tuple[int | None, int | None, int | None]:
    """Commits `branch` is ahead of and behind `base`, and how many files at `path` are
    uncommitted (each None when git cannot say); takes no lock a running agent needs."""
    try:
        repo = git.Repo(path)
        ahead, behind = (
            int(x) for x in repo.git.rev_list("--left-right", "--count", f"{branch}...{base}").split()
        )
        porcelain = repo.git.status("--porcelain", env=READ_ONLY)
    except (GitCommandError, InvalidGitRepositoryError, NoSuchPathError, ValueError):
        return None, None, None
    return ahead, behind, len([ln for ln in porcelain.splitlines() if ln.strip()])
