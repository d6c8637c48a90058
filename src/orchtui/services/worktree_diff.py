"""What a worktree changed against its base, for the diff view: the files (committed,
uncommitted and untracked), every tracked file's patch in one read, one file's patch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orchtui.runtime.git_changes import FileChange, all_diffs, changed_files, file_diff

__all__ = ["FileChange", "WorktreeDiff"]


@dataclass(frozen=True)
class WorktreeDiff:
    worktree: Path
    base: str

    def files(self) -> list[FileChange]:
        return changed_files(self.worktree, self.base)

    def patches(self) -> dict[str, str]:
        """Path -> patch for every tracked change (large ones left to `patch`)."""
        return all_diffs(self.worktree, self.base)

    def patch(self, change: FileChange) -> str:
        return file_diff(self.worktree, self.base, change)
