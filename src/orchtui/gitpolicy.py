"""Git delivery policy (`[git]` in config, per repository): branch names, commit messages,
protected branches, the checks a merge needs and how it lands.

Every check returns the broken rule as one line, or None; callers refuse with it.
The policy of a repository is the user config's `[git]` under that repository's own
`.orchtui.toml` (see `config.policy_for`), so one engine serves repositories with different rules.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchtui.playbook import Gate

# Conventional Commits 1.0: type(scope)!: description
CONVENTIONAL = re.compile(r"^(?P<type>[a-z]+)(\([\w./-]+\))?!?: \S.*$")
CONVENTIONAL_TYPES = (
    "feat",
    "fix",
    "docs",
    "style",
    "refactor",
    "perf",
    "test",
    "build",
    "ci",
    "chore",
    "revert",
)
TRAILER_KEYS = ("Orchtui-Task", "Orchtui-Stage", "Orchtui-Agent", "Orchtui-Run", "Orchtui-Session")


class GitPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    branch_pattern: str = r"^orchtui/[A-Za-z0-9][A-Za-z0-9._/-]*$"  # regex every session branch matches
    commit_style: Literal["conventional", "regex", "any"] = "conventional"
    commit_pattern: str | None = None  # regex the subject line matches when commit_style = "regex"
    commit_template: str = (
        "{type}: {summary}"  # subject; placeholders: type, summary, task, stage, agent, run
    )
    commit_type: str = Field(default="feat", pattern=r"^[a-z]+$")
    protected: list[str] = Field(default_factory=lambda: ["main", "master", "release/*"])  # globs
    required_checks: list[Gate] = Field(default_factory=list)  # must pass in the branch before a merge
    merge_strategy: Literal["merge", "squash", "rebase"] = "merge"
    resolver: str | None = None  # agent profile that resolves merge conflicts; none: the operator
    resolver_attempts: int = Field(default=3, ge=1, le=20)
    amend_agent_commits: bool = False  # reword an agent's own non-compliant commits when orchtui commits

    @field_validator("branch_pattern", "commit_pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value

    @field_validator("commit_template")
    @classmethod
    def _template(cls, value: str) -> str:
        try:
            value.format(type="t", summary="s", task="t", stage="s", agent="a", run="r")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"unknown placeholder {exc}; use type, summary, task, stage, agent, run"
            ) from None
        return value

    # checks -----------------------------------------------------------------
    def is_protected(self, branch: str) -> bool:
        return any(fnmatch.fnmatchcase(branch, pattern) for pattern in self.protected)

    def branch_problem(self, branch: str) -> str | None:
        if self.is_protected(branch):
            return f"branch {branch!r} is protected (git.protected)"
        if not re.search(self.branch_pattern, branch):
            return f"branch {branch!r} does not match git.branch_pattern {self.branch_pattern!r}"
        return None

    def message_problem(self, message: str) -> str | None:
        subject = message.strip().splitlines()[0] if message.strip() else ""
        if not subject:
            return "the commit message is empty"
        if self.commit_style == "conventional":
            hit = CONVENTIONAL.match(subject)
            if hit is None:
                return f"{subject!r} is not a Conventional Commit ('type(scope): summary') (git.commit_style)"
            if hit["type"] not in CONVENTIONAL_TYPES:
                return f"{subject!r}: type {hit['type']!r} is not one of {', '.join(CONVENTIONAL_TYPES)}"
        elif (
            self.commit_style == "regex"
            and self.commit_pattern
            and not re.search(self.commit_pattern, subject)
        ):
            return f"{subject!r} does not match git.commit_pattern {self.commit_pattern!r}"
        return None

    def message(self, summary: str, trailers: dict[str, str], kind: str | None = None, body: str = "") -> str:
        """A compliant message: the template's subject, a body, and orchtui's trailers."""
        values = {k.removeprefix("Orchtui-").lower(): v for k, v in trailers.items()}
        subject = self.commit_template.format(
            type=kind or self.commit_type,
            summary=summary.strip().splitlines()[0] if summary.strip() else "",
            task=values.get("task", ""),
            stage=values.get("stage", ""),
            agent=values.get("agent", ""),
            run=values.get("run", ""),
        )
        lines = [subject, ""]
        if body.strip():
            lines += [body.strip(), ""]
        lines += [f"{k}: {v}" for k, v in trailers.items() if v]
        return "\n".join(lines) + "\n"
