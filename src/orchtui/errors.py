"""Errors that reach the operator as one clear line (never a traceback)."""

from __future__ import annotations

from pathlib import Path


class OrchtuiError(Exception):
    """An error the operator can act on. `exit_code` is what the CLI returns."""

    exit_code = 1


class UsageError(OrchtuiError):
    """Bad input: config, profile, names, prompts. Exit 2, nothing changed."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration or profile file is invalid; the message names file and field."""


class NotFound(OrchtuiError):
    exit_code = 3


class Refused(OrchtuiError):
    """A safety rule refused the action (e.g. a dirty worktree without --force)."""

    exit_code = 4


class Untrusted(Refused):
    """A repository's file asks orchtui to run something the operator has not trusted;
    `path` is what `orchtui trust` (or the dashboard's question) would trust."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


class NeedsPerson(OrchtuiError):
    """`run --headless`: the run waits for a person (an approval). Exit 6."""

    exit_code = 6


class StoreError(OrchtuiError):
    """The database failed (disk full, read-only, locked past the busy timeout)."""

    exit_code = 5
