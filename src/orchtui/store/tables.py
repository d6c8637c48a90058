"""The schema. Timestamps are UNIX seconds (float) so latencies can be computed exactly."""

from __future__ import annotations

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel


class Meta(SQLModel, table=True):
    key: str = Field(primary_key=True)
    value: str


class Project(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    path: str = Field(index=True, unique=True)
    name: str
    tmux_session: str
    created_at: float


class Worktree(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    path: str
    branch: str
    base: str
    state: str
    rescue_ref: str | None = None  # where uncommitted work was saved before a forced removal
    created_at: float
    removed_at: float | None = None


class AgentSession(SQLModel, table=True):
    __tablename__ = "agent_session"
    id: str = Field(primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    worktree_id: int | None = Field(default=None, foreign_key="worktree.id")
    agent: str
    task: str
    role: str | None = None  # the playbook role it fills, when a run started it
    run_id: str | None = Field(default=None, index=True)
    status: str = Field(index=True)
    status_detail: str | None = None
    exit_code: int | None = None
    tmux_session: str | None = None
    tmux_window: str | None = None
    tmux_pane: str | None = None
    conversation_id: str | None = None
    taken_over: bool = False
    log_offset: int = 0
    created_at: float
    updated_at: float
    status_at: float
    ended_at: float | None = None


class Command(SQLModel, table=True):
    """One ledger row per prompt, answer or takeover. `text` is redacted."""

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(foreign_key="agent_session.id", index=True)
    kind: str
    text: str
    state: str = Field(index=True)
    actor: str
    attempts: int = 0
    urgent: bool = False  # sent at once, even while the agent works (else: when it is idle)
    submit_offset: int | None = None  # the agent log's size when Enter was first pressed (None: never)
    error: str | None = None
    queued_at: float
    issued_at: float | None = None
    delivered_at: float | None = None
    running_at: float | None = None
    done_at: float | None = None
    failed_at: float | None = None
    cancelled_at: float | None = None


class CommandPayload(SQLModel, table=True):
    """The exact text to deliver, kept only until the command is delivered or final."""

    __tablename__ = "command_payload"
    command_id: int = Field(primary_key=True, foreign_key="command.id")
    text: str


class CommandTransition(SQLModel, table=True):
    __tablename__ = "command_transition"
    id: int | None = Field(default=None, primary_key=True)
    command_id: int = Field(foreign_key="command.id", index=True)
    state: str
    at: float
    cause: str


class Event(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    at: float = Field(index=True)
    session_id: str | None = Field(default=None, index=True)
    kind: str
    severity: str = "info"
    message: str = ""
    data: str = "{}"


class Run(SQLModel, table=True):
    """One playbook run for a task."""

    id: str = Field(primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    playbook: str
    playbook_path: str
    task: str
    worktree_id: int | None = Field(default=None, foreign_key="worktree.id")
    state: str = Field(index=True)  # see orchtui.domain.RunState
    stage: str | None = None
    attempt: int = 0
    detail: str | None = None
    created_at: float
    updated_at: float


class Approval(SQLModel, table=True):
    """A decision a person must make; what they were shown is kept with it."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="run.id", index=True)
    stage: str
    action: str
    shown: str  # what the prompt showed (plan, gate evidence, diff summary), as JSON
    state: str = Field(index=True)  # pending | approved | rejected
    reason: str | None = None
    who: str | None = None
    created_at: float
    decided_at: float | None = None


class GateResult(SQLModel, table=True):
    __tablename__ = "gate_result"
    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="run.id", index=True)
    stage: str
    attempt: int
    gate_index: int
    type: str
    state: str  # pass | fail | pending
    why: str
    evidence: str = ""
    at: float


class Artifact(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="run.id", index=True)
    stage: str
    name: str
    path: str | None = None
    content: str = ""
    at: float


class Usage(SQLModel, table=True):
    """One model call's tokens and what they cost, as an agent's transcript recorded it.
    `key` is unique per session (a message id, a running total): read twice, counted once."""

    __table_args__ = (UniqueConstraint("session_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(foreign_key="agent_session.id", index=True)
    key: str
    run_id: str | None = Field(default=None, index=True)
    stage: str | None = None
    role: str | None = None
    agent: str
    model: str
    at: float = Field(index=True)
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read: int = 0
    cache_write: int = 0
    cost: float = 0.0  # US dollars, priced when recorded
    priced: bool = True  # False: the price table did not know the model


class Merge(SQLModel, table=True):
    """A branch landing on its target; with conflicts, the resolution loop's state."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    worktree_id: int = Field(foreign_key="worktree.id")  # the branch's worktree
    session_id: str | None = None  # the session whose work it is
    run_id: str | None = Field(default=None, index=True)
    source: str  # branch
    target: str
    strategy: str
    state: str = Field(index=True)  # see orchtui.domain.MergeState
    old_tip: str  # the target's tip when the merge began (it lands only onto that)
    source_tip: str
    conflicts: str = "[]"  # JSON list of paths
    resolver_session_id: str | None = None
    resolver_worktree_id: int | None = None
    attempts: int = 0
    commit: str | None = None
    detail: str | None = None
    created_at: float
    ended_at: float | None = None


class SkillVetting(SQLModel, table=True):
    """An operator vetted this exact text of a skill (its SKILL.md's sha256)."""

    __tablename__ = "skill_vetting"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    version: str
    digest: str
    who: str
    at: float
