"""What the engine's parts need from the parts that call them, as Protocols (ports): the
parts depend on a port, never on the loop (engine.py) or the advancer that knows them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from orchtui.domain import RunState
from orchtui.engine.boundary import Boundary
from orchtui.engine.monitor import Monitor
from orchtui.engine.turns import Turns
from orchtui.playbook import Playbook, Role, Stage
from orchtui.services.capacity import Slot
from orchtui.services.context import Context
from orchtui.services.gates import GateOutcome
from orchtui.services.notify import News
from orchtui.services.run_env import RunEnv
from orchtui.store.tables import AgentSession, RaceEntry, Run, Worktree


class Loop(Protocol):
    ctx: Context
    turns: Turns  # prompt turns in flight: delivery notes each submit
    tasks: set[asyncio.Task[None]]  # background tasks the loop awaits on shutdown
    boundary: Boundary  # where a part's errors go
    monitors: dict[str, Monitor]  # this host's followed sessions, by id

    def add_marker(self, session_id: str, regex: str) -> None:
        """Watch the session's output for a stage's completion marker."""

    def hook_status(self, monitor: Monitor, status: str, detail: str) -> None:
        """An agent's hook reported its status."""

    def note_conversation(self, monitor: Monitor, conversation_id: str) -> None:
        """The agent's conversation id, for resuming it after a restart."""

    def budget_exhausted(self, run_id: str, why: str) -> None:
        """A run's budget is spent: it starts nothing new until resumed."""

    def call(self, news: News) -> None:
        """Something the operator should hear about (services/notify.py)."""


class StageHost(Protocol):
    """What a stage's helpers (revive.py: dead agents; merge_stage.py: landing the branch)
    need from the run advancer that calls them."""

    ctx: Context
    env: RunEnv

    def event(self, run: Run, kind: str, message: str, severity: str = "info", **data: Any) -> None:
        """Record a run event (it reaches the hook by severity)."""

    def set(self, run: Run, state: RunState, detail: str | None = None, attempt: int | None = None) -> Run:
        """Move the stage `run` views to `state`."""

    def pause(self, run: Run, why: str, severity: str = "warning") -> None:
        """Pause the run, naming the stage that stopped it."""

    def begin_gates(self, run: Run, book: Playbook, stage: Stage) -> None:
        """Check the stage's gates in a worker thread."""

    def run_worktree(self, run: Run) -> Worktree | None:
        """The run's shared worktree, once made."""


class RaceHost(StageHost, Protocol):
    """What a racing stage (race.py) needs besides: the stage machinery it shares."""

    engine: Loop
    starting: dict[tuple[str, str], list[Slot]]  # stages whose agents are being made, and their slots
    making: threading.Lock  # sessions and worktrees of runs are made one at a time
    entry_gating: set[tuple[str, str, int]]  # race entries whose gates are being checked

    def cursor(self, run_id: str, stage_id: str) -> Run:
        """The run as one of its stages sees it."""

    def wait_for_capacity(self, run: Run, stage: Stage, missing: str) -> None:
        """The stage waits for room (said once)."""

    def agent_args(
        self, run: Run, stage: Stage, role: Role, profile: str, host: str | None = None
    ) -> dict[str, Any]:
        """What SessionService.create and join take for a stage's agent."""

    def halted(self, run_id: str) -> bool:
        """Paused or over: nothing of the run moves."""

    def advance(self, run: Run) -> None:
        """Step every stage of the run whose needs are met."""

    def in_worker(
        self,
        key: tuple[str, str],
        run: Run,
        stage: Stage,
        work: Callable[[], None],
        then: Callable[[], None] | None = None,
        slots: list[Slot] | None = None,
    ) -> None:
        """A stage's slow start in a worker thread; `then` on the loop afterwards."""

    def make_run_worktree(self, run: Run, project: Path) -> Worktree:
        """The run's own worktree and branch, before its first agent."""

    def send(
        self, run: Run, stage: Stage, role: Role, index: int, session: AgentSession, feedback: str | None
    ) -> None:
        """Queue a role's prompt for this attempt, once."""

    def check_gates(self, run: Run, stage: Stage, entry: RaceEntry | None = None) -> list[GateOutcome]:
        """The stage's steps and gates (a race entry's, in its worktree)."""

    def on_outcomes(self, run: Run, book: Playbook, stage: Stage, outcomes: list[GateOutcome]) -> None:
        """What the stage's outcomes mean: complete it, retry it, pause or fail the run."""

    def complete_stage(self, run: Run, book: Playbook, stage: Stage) -> None:
        """Stop its agents, keep its summary, and let the stages that need it start."""
