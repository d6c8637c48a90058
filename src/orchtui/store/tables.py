"""The schema. Timestamps are UNIX seconds (float) so latencies can be computed exactly."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import String, TypeDecorator, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

from orchtui.domain import (
    ApprovalState,
    CommandKind,
    CommandState,
    MergeState,
    RunState,
    SessionStatus,
    StageState,
    WorktreeState,
)


class EnumText(TypeDecorator[StrEnum]):
    """A status column: stored as its plain text (the schema is unchanged), read back as
    its StrEnum; a value outside the enum is refused before it reaches the database."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum]) -> None:
        super().__init__()
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.enum(value)


def enum_column(enum: type[StrEnum], index: bool = False) -> Any:
    """A column holding one of `enum`'s values."""
    return Field(sa_type=EnumText(enum), index=index)


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
    state: WorktreeState = enum_column(WorktreeState)
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
    status: SessionStatus = enum_column(SessionStatus, index=True)
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
    archived_at: float | None = None  # an ended session put away: hidden unless asked for
    host: str | None = Field(default=None, index=True)  # the worker whose tmux runs it (None: before v13)
    # JSON list of regexes that end a turn besides its profile's (a playbook stage's
    # completion marker): kept here so the engine that follows it, on any host and after
    # any restart, watches for them
    markers: str | None = None


class Command(SQLModel, table=True):
    """One ledger row per prompt, answer or takeover. `text` is redacted."""

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(foreign_key="agent_session.id", index=True)
    kind: CommandKind = enum_column(CommandKind)
    text: str
    state: CommandState = enum_column(CommandState, index=True)
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
    state: CommandState = enum_column(CommandState)
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
    state: RunState = enum_column(RunState, index=True)
    stage: str | None = None  # the stages under way, in file order ("test, docs"), else the last one
    attempt: int = 0
    detail: str | None = None
    created_at: float
    updated_at: float
    env_names: str | None = None  # the pass_env names its agents take from the starting shell (never values)
    group_runs: str | None = None  # JSON, a multi-repository start: {"runs": [...], "repos": {name: path}}
    host: str | None = Field(default=None, index=True)  # the worker that advances it (None: unclaimed)


class RunStage(SQLModel, table=True):
    """One stage of a run, from the moment its `needs` were met: stages whose needs are
    met run side by side, each with its own state and attempt."""

    __tablename__ = "run_stage"
    __table_args__ = (UniqueConstraint("run_id", "stage"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="run.id", index=True)
    stage: str
    state: StageState = enum_column(StageState)
    attempt: int = 1
    detail: str | None = None
    started_at: float
    ended_at: float | None = None
    worktree_id: int | None = None  # `worktree: own`: the stage's own worktree
    start_commit: str | None = None  # the commit it started from (what `revert` returns to)
    restarts: str = "{}"  # JSON: "<session>:<attempt>" -> agents restarted (`restart_agents`)


class Approval(SQLModel, table=True):
    """A decision a person must make; what they were shown is kept with it."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: str | None = Field(default=None, foreign_key="run.id", index=True)  # what it is about:
    session_id: str | None = Field(default=None, index=True)  # a run's stage, or a session (asked over MCP)
    stage: str
    action: str
    shown: str  # what the prompt showed (plan, gate evidence, diff summary), as JSON
    state: ApprovalState = enum_column(ApprovalState, index=True)
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
    entry: int | None = None  # a race's entry it judged (None: the stage's own work)


class RaceEntry(SQLModel, table=True):
    """One attempt of a racing stage (playbook `race:`): an agent in its own worktree and
    branch, gated on its own, scored, and then won or lost (engine/race.py)."""

    __tablename__ = "race_entry"
    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="run.id", index=True)
    stage: str
    attempt: int  # the stage's attempt it raced in
    number: int  # 1 … count
    agent: str
    session_id: str | None = None
    worktree_id: int | None = None
    branch: str | None = None
    state: str = "starting"  # starting | working | gating | passed | failed | stopped
    score: float | None = None  # a passing entry's score (playbook `race.weights`)
    metrics: str = "{}"  # JSON: what its gates read, and cost_usd, time_s
    started_at: float
    finished_at: float | None = None  # its turn ended (its gates ran after)
    result: str | None = None  # won | lost, once the race is decided
    kept_ref: str | None = None  # where its branch is kept (refs/orchtui/races/…)
    picked_at: float | None = None  # an operator picked it (pick: operator)
    picked_by: str | None = None


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
    state: MergeState = enum_column(MergeState, index=True)
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


class Worker(SQLModel, table=True):
    """An engine on one host (`orchtui worker`, or the engine a CLI started): what it can
    run, and its heartbeat. Stale after `[worker] stale_after` seconds without one."""

    name: str = Field(primary_key=True)  # the host's name in the fleet ([worker] name, else the host name)
    address: str
    pid: int
    version: str
    capacity: int
    agents: str = "[]"  # JSON list of the agent profiles installed there
    sessions: int = 0  # its live sessions at the last heartbeat
    load: float = 0.0  # the host's 1-minute load average
    started_at: float
    heartbeat_at: float = Field(index=True)
    stopped_at: float | None = None  # it said goodbye (a clean stop); None while running or lost
    socket: str = ""  # its tmux server's socket name (a takeover from another host attaches there)
    worktree_root: str = ""  # where it makes worktrees (services/fleet.py: which hosts share a disk)
    peers: str = "[]"  # JSON list of the hosts whose worktree root it sees as they do


class SharedScreen(SQLModel, table=True):
    """One session's screen, published by its host's worker through the store while a
    viewer on another host watches it (`watched_until`), at most `[worker] screen_rate`
    times a second (services/screen_share.py, engine/screens.py). Lines are tmux's
    capture with colours; a line that held a secret is stored redacted, without them."""

    __tablename__ = "shared_screen"
    session_id: str = Field(primary_key=True)
    host: str = Field(index=True)  # the worker that publishes it
    watched_until: float = 0.0  # a viewer renews this while it shows the screen
    lines: str = "[]"  # JSON list of the pane's rows (SGR colour sequences kept)
    cols: int = 0
    rows: int = 0
    cursor_x: int = 0
    cursor_y: int = 0
    published_at: float | None = None
    publications: int = 0  # how many times it was published (the rate is counted on it)


class HostAction(SQLModel, table=True):
    """Something only one host's worker can do (its tmux, its worktrees), asked from any
    host: queued here, claimed by that worker (`FOR UPDATE SKIP LOCKED`), carried out in
    order, once (services/host_actions.py)."""

    __tablename__ = "host_action"
    id: int | None = Field(default=None, primary_key=True)
    host: str = Field(index=True)
    kind: str  # create, kill, restart
    session_id: str | None = Field(default=None, index=True)
    args: str = "{}"  # JSON
    state: str = Field(default="queued", index=True)  # queued, running, done, failed
    result: str | None = None  # JSON when done, the one-line error when failed
    actor: str = ""
    created_at: float
    claimed_at: float | None = None
    done_at: float | None = None
