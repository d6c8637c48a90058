"""The repository a command runs in, for the CLI and the dashboard: its work tree and
the branch checked out there."""

from __future__ import annotations

from pathlib import Path

from orchtui.runtime.git import current_branch, repo_root

__all__ = ["current_branch", "here", "repo_root"]


def here() -> Path:
    """The work tree of the repository the current directory is in (UsageError outside one)."""
    return repo_root(Path.cwd())
