"""Validation of names that become paths, branches or tmux targets."""

from __future__ import annotations

import re
import subprocess

from orchtui.errors import UsageError

TASK_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
PROFILE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def validate_task(name: str) -> str:
    """A task name becomes a directory and a branch component.

    Lower-case letters, digits, `.`, `_` and `-`; starts with a letter or digit; at
    most 63 characters; no `..` and no trailing `.lock` (git's own rules).
    """
    if not TASK_RE.fullmatch(name) or ".." in name or name.endswith((".lock", ".")):
        raise UsageError(
            f"invalid task name {name!r}: use 1-63 of a-z 0-9 . _ - starting with a letter or digit"
        )
    return name


def validate_profile_name(name: str) -> str:
    if not PROFILE_RE.fullmatch(name):
        raise UsageError(f"invalid profile name {name!r}: use 1-32 of a-z 0-9 _ -")
    return name


def validate_branch(branch: str) -> str:
    """Check a branch name with git's own ref rules (`git check-ref-format --branch`)."""
    proc = subprocess.run(
        ["git", "check-ref-format", "--branch", branch],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or branch.startswith("-"):
        raise UsageError(f"invalid branch name {branch!r} (git check-ref-format)")
    if outside_heads(branch):
        raise UsageError(f"invalid branch name {branch!r}: it would name a ref outside refs/heads/")
    return branch


def outside_heads(name: str) -> bool:
    """A branch name git accepts that would still mislead: `refs/heads/x` makes a branch
    literally named so, `HEAD` and `@` are not branches."""
    return name.startswith("refs/") or name in ("HEAD", "@") or "@{" in name
