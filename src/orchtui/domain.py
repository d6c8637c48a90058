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


class ApprovalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class MergeState(StrEnum):
    RESOLVING = "resolving"  # conflicts: a resolver works in a worktree with the merge in progress
    VERIFYING = "verifying"  # the resolver is done; markers and checks are being verified
    MERGED = "merged"
    ABORTED = "aborted"
