"""Domain vocabulary shared by every layer: statuses, ledger states, kinds."""

from __future__ import annotations

from enum import StrEnum


class SessionStatus(StrEnum):
    STARTING = "starting"
    IDLE = "idle"
    WORKING = "working"
    WAITING = "waiting"  # waiting for the operator (permission prompt, question)
    ERROR = "error"  # last turn failed; the agent is at its prompt
    EXITED = "exited"  # the agent process ended; exit code recorded
    KILLED = "killed"  # stopped by orchtui
    LOST = "lost"  # its tmux window vanished while orchtui was away

    @property
    def live(self) -> bool:
        return self not in (SessionStatus.EXITED, SessionStatus.KILLED, SessionStatus.LOST)

    @property
    def accepts_input(self) -> bool:
        return self in (SessionStatus.IDLE, SessionStatus.ERROR)


class CommandState(StrEnum):
    QUEUED = "queued"
    ISSUED = "issued"
    DELIVERED = "delivered"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (CommandState.DONE, CommandState.FAILED, CommandState.CANCELLED)


# The legal moves of a ledger row. Anything else is a bug and is refused.
COMMAND_TRANSITIONS: dict[CommandState, frozenset[CommandState]] = {
    CommandState.QUEUED: frozenset({CommandState.ISSUED, CommandState.CANCELLED}),
    CommandState.ISSUED: frozenset({CommandState.DELIVERED, CommandState.FAILED, CommandState.CANCELLED}),
    CommandState.DELIVERED: frozenset(
        {CommandState.RUNNING, CommandState.DONE, CommandState.FAILED, CommandState.CANCELLED}
    ),
    CommandState.RUNNING: frozenset({CommandState.DONE, CommandState.FAILED, CommandState.CANCELLED}),
    CommandState.DONE: frozenset(),
    CommandState.FAILED: frozenset(),
    CommandState.CANCELLED: frozenset(),
}


class CommandKind(StrEnum):
    PROMPT = "prompt"  # text for the agent, pasted and submitted
    ANSWER = "answer"  # a key answering a permission prompt (delivered while waiting)
    TAKEOVER = "takeover"  # the operator attached; rows record start and end
    COMMIT = "commit"  # orchtui committed the worktree (hash and files in the text)
    MERGE = "merge"  # the branch landed on its target, or a merge began/ended


class WorktreeState(StrEnum):
    ACTIVE = "active"
    KEPT = "kept"  # session ended, worktree left in place
    REMOVED = "removed"  # worktree removed (archived), branch kept
    DELETED = "deleted"  # worktree and branch removed (its commits were on the target, or confirmed)


class RunState(StrEnum):
    PENDING = "pending"  # the current stage is about to start
    WAITING_APPROVAL = "waiting_approval"
    RUNNING = "running"  # the stage's roles are working
    GATING = "gating"  # the stage's gates are being checked
    PAUSED = "paused"  # needs the operator (rejected, escalated, critical error)
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (RunState.DONE, RunState.FAILED, RunState.CANCELLED)


class StageState(StrEnum):
    """One stage of a run (a row once its needs are met)."""

    PENDING = "pending"  # about to start (or waiting for capacity)
    WAITING_APPROVAL = "waiting_approval"
    RUNNING = "running"
    GATING = "gating"
    PAUSED = "paused"  # it stopped the run: failed gates, a rejection, an error
    DONE = "done"
    SKIPPED = "skipped"  # not for this repository (`repos:`)

    @property
    def finished(self) -> bool:
        return self in (StageState.DONE, StageState.SKIPPED)


class ApprovalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class MergeState(StrEnum):
    RESOLVING = "resolving"  # conflicts: a resolver works in a worktree with the merge in progress
    VERIFYING = "verifying"  # the resolver is done; markers and checks are being verified
    MERGED = "merged"
    ABORTED = "aborted"


# The MCP server's tools, by the group of the tool contract they belong to. `[mcp] allow`
# in the config names groups or tools; a tool not allowed is neither listed nor callable.
MCP_TOOLS: dict[str, tuple[str, ...]] = {
    "planning": ("plan_stage_allocation", "propose_stage_execution"),
    "sessions": (
        "create_session",
        "send_command",
        "read_session_output",
        "close_session",
        "list_sessions",
        "wait_for",
    ),
    "workspace": ("create_worktree", "commit_changes", "merge_worktree", "resolve_merge_conflict"),
    "governance": (
        "request_stage_approval",
        "run_quality_gate",
        "write_project_memory",
        "read_project_memory",
    ),
}
