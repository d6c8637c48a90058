"""What the dashboard shows, built from the store, git and transcripts (no UI code).

`DashboardSource.snapshot()` runs in a worker thread; the UI only renders the result.
A snapshot reads only the store and never waits for git: the git facts of each worktree
(ahead/behind, dirty files) are read apart by `read_git()`, a few worktrees per call
(the selected one first), and only again when its agent has been active since the last
read, or it is selected and the read is older than GIT_TTL. Only the facts someone looks at
are read: the selected session's, and those of the sessions in `wanted` (the dashboard sets
it to the Worktrees tab's visible rows). 500 idle sessions cost no git at all, and the
first rows show before any git has run.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from orchtui.domain import CommandKind, CommandState, RunState, SessionStatus
from orchtui.runtime.git import branch_facts
from orchtui.runtime.watch import changes
from orchtui.services import host_actions
from orchtui.services.budget import day_start
from orchtui.services.context import Context
from orchtui.store.tables import AgentSession, Command, Event, Worktree

GIT_TTL = 5.0  # seconds before the facts of a worktree that changed may be read again
GIT_BATCH = 8  # worktrees read per read_git() call


@dataclass(frozen=True)
class GitFacts:
    ahead: int | None
    behind: int | None
    dirty: int | None


@dataclass(frozen=True)
class SessionView:
    id: str
    agent: str
    task: str
    status: str
    exit_code: int | None
    detail: str | None
    branch: str | None
    base: str | None
    worktree: str | None
    worktree_state: str | None
    created_at: float
    status_at: float
    last_output_at: float | None
    taken_over: bool
    queued: int
    tokens_in: int
    tokens_out: int
    git: GitFacts
    pane: str | None
    log_file: Path
    cost: float = 0.0  # US dollars
    model: str | None = None
    repo: str = ""  # the repository's name (sessions are grouped by it when there are several)
    run_id: str | None = None  # the playbook run it works for (grouped under it)
    archived: bool = False  # ended and put away: hidden unless the operator asks (A)
    host: str | None = None  # the fleet's worker that runs it (shown when sessions span hosts)


@dataclass(frozen=True)
class CommandView:
    id: int
    kind: str
    state: str
    text: str
    actor: str
    queued_at: float
    changed_at: float
    cause: str


@dataclass(frozen=True)
class GateView:
    name: str
    state: str  # pass | fail | pending
    why: str


@dataclass(frozen=True)
class RunView:
    id: str
    task: str
    playbook: str
    state: str
    stage: str | None
    attempt: int
    detail: str | None


@dataclass(frozen=True)
class ApprovalView:
    id: int
    run_id: str | None
    session_id: str | None
    stage: str
    action: str
    summary: str  # what the prompt shows, in short lines
    shown: str  # everything it shows (JSON), for the details view

    @property
    def about(self) -> str:
        """What it is about: `run 3f2a1c`, or `session 9bc0de` (a request made over MCP)."""
        return f"run {self.run_id}" if self.run_id else f"session {self.session_id}"


@dataclass(frozen=True)
class Snapshot:
    sessions: list[SessionView]
    selected: SessionView | None
    ledger: list[CommandView]
    checks: list[GateView]  # the selected session's evidence (not a playbook's gates)
    usage_points: list[tuple[float, float]] = field(default_factory=list)  # (time, dollars)
    alerts: list[Event] = field(default_factory=list)  # recent events of warning severity and up
    last_event_id: int = 0
    run: RunView | None = None  # the selected session's run, else the latest active one
    run_gates: list[GateView] = field(default_factory=list)
    approvals: list[ApprovalView] = field(default_factory=list)
    budgets: list[str] = field(default_factory=list)  # one line per configured budget ("!" when over)
    race: list[str] = field(default_factory=list)  # the run's race: one line per entry (cost, time, result)

    @property
    def tokens(self) -> tuple[int, int]:
        return sum(s.tokens_in for s in self.sessions), sum(s.tokens_out for s in self.sessions)


def approval_summary(shown_json: str) -> str:
    """The few lines an inline approval prompt shows: what starts, who would do it, the
    evidence so far and the size of the change."""
    try:
        shown: dict[str, Any] = json.loads(shown_json)
    except ValueError:
        return shown_json[:200]
    if shown.get("proposal") is not None:  # asked for over MCP, about one session
        lines = [f"{shown.get('requested_by')} asks: {' '.join(str(shown['proposal']).split())[:160]}"]
        if shown.get("branch"):
            lines.append(f"branch {shown['branch']} at {str(shown.get('head') or '')[:10]}")
        diff = str(shown.get("diff") or "").strip().splitlines()
        lines.append("diff: " + (diff[-1].strip() if diff else "no changes"))
        return "\n".join(lines)
    if shown.get("action") == "done":  # a manual stage: the operator did it and says so
        head = f"mark {shown.get('stage')} done (manual: orchtui ran nothing) for task {shown.get('task')}"
    else:
        head = f"start {shown.get('stage')} ({shown.get('automation')}) for task {shown.get('task')}"
    lines = [head + (" — merges the run's branch" if shown.get("merge") else "")]
    if shown.get("unvetted"):
        lines.append("runs skills not vetted: " + ", ".join(shown["unvetted"]))
    plan = shown.get("plan") or []
    if plan:
        lines.append(
            "plan: " + ", ".join(f"{p['role']} → {p['count']} × {p['profile'] or 'UNFILLED'}" for p in plan)
        )
    gates = shown.get("previous_gates") or []
    if gates:
        marks = {"pass": "✔", "fail": "✖", "pending": "…", "warn": "!"}
        lines.append(
            f"{shown.get('previous_stage')} gates: "
            + "; ".join(f"{marks.get(g['state'], '?')} {g['gate']}" for g in gates)
        )
    diff = str(shown.get("diff") or "").strip().splitlines()
    lines.append("diff: " + (diff[-1].strip() if diff else "no changes yet"))
    return "\n".join(lines)


def _changed_at(cmd: Command) -> float:
    stamps = [
        cmd.queued_at,
        cmd.issued_at,
        cmd.delivered_at,
        cmd.running_at,
        cmd.done_at,
        cmd.failed_at,
        cmd.cancelled_at,
    ]
    return max(s for s in stamps if s is not None)


class DashboardSource:
    def __init__(self, ctx: Context, clock: Callable[[], float] = time.time) -> None:
        self.ctx = ctx
        self.clock = clock
        self._spend: dict[str, tuple[int, int, float, str]] = {}
        # worktree path -> (wall-clock time of the read, facts); written by read_git()
        self._git: dict[str, tuple[float, GitFacts]] = {}
        # worktrees whose facts are missing or out of date, the selected one first
        self.stale: list[tuple[str, str, str]] = []
        # sessions whose facts are read besides the selected one; None: every session's
        self.wanted: set[str] | None = None
        self._repos: dict[int, str] = {}

    async def changes(self, stop: asyncio.Event) -> AsyncIterator[set[Path]]:
        """Sets of changed files under the state directory and the pane logs (the store's
        writes, agents' output), 50 ms apart at most, until `stop` is set."""
        state = self.ctx.config.state
        state.ensure()
        async for names in changes([state.home, state.logs], 50, stop, 10):
            yield names

    @property
    def unread(self) -> bool:
        """Some worktree on screen has no git facts yet."""
        return any(path not in self._git for path, _branch, _base in self.stale)

    def read_git(self, limit: int = GIT_BATCH) -> bool:
        """Read the facts of up to `limit` stale worktrees; True when any of them changed."""
        changed = False
        done: set[str] = set()
        for path, branch, base in list(self.stale[:limit]):
            facts = _read_facts(path, branch, base)
            old = self._git.get(path)
            self._git[path] = (time.time(), facts)
            done.add(path)
            changed = changed or old is None or old[1] != facts
        self.stale = [item for item in self.stale if item[0] not in done]
        return changed

    def _facts(self, view: SessionView, selected: bool, stale: list[tuple[str, str, str]]) -> GitFacts:
        """The cached facts of a view's worktree; out-of-date ones that are wanted are put
        on `stale`."""
        if view.worktree_state != "active" or not view.worktree or not view.branch or not view.base:
            return GitFacts(None, None, None)
        cached = self._git.get(view.worktree)
        wanted = selected or self.wanted is None or view.id in self.wanted
        if cached is None:
            if wanted:
                stale.append((view.worktree, view.branch, view.base))
            return GitFacts(None, None, None)
        read_at, facts = cached
        active = max(view.status_at, view.last_output_at or 0.0) >= read_at
        if wanted and (active or selected) and time.time() - read_at >= GIT_TTL:
            stale.append((view.worktree, view.branch, view.base))
        return facts

    def _with_facts(
        self, views: list[SessionView], chosen: SessionView | None
    ) -> tuple[list[SessionView], SessionView | None]:
        """`views` with their cached git facts (the same objects where the facts did not
        change), and the chosen one's new view; `stale` is worked out again."""
        stale: list[tuple[str, str, str]] = []
        out = []
        for view in views:
            facts = self._facts(view, chosen is not None and view.id == chosen.id, stale)
            out.append(view if facts == view.git else replace(view, git=facts))
        stale.sort(key=lambda item: chosen is None or item[0] != chosen.worktree)  # the selected first
        self.stale = stale
        return out, next((v for v in out if chosen is not None and v.id == chosen.id), None)

    def with_git(self, snap: Snapshot, selected_id: str | None = None) -> Snapshot:
        """`snap` with the git facts read since it was made, and what is stale worked out
        again (`wanted` or the selection, `selected_id`, may have changed): no read of the
        store. The selection itself moves with reselect()."""
        chosen = next((v for v in snap.sessions if v.id == selected_id), snap.selected)
        views, selected = self._with_facts(snap.sessions, chosen)
        if all(new is old for new, old in zip(views, snap.sessions, strict=True)):
            return snap  # the same list: the dashboard knows its rows need no update
        if snap.selected is None or selected is None or selected.id != snap.selected.id:
            return replace(snap, sessions=views)  # reselect() makes the new selection's checks
        return replace(snap, sessions=views, selected=selected, checks=self.checks(selected, snap.ledger))

    def _view(self, row: AgentSession, queued: int, worktrees: dict[int, Worktree]) -> SessionView:
        wt = worktrees.get(row.worktree_id) if row.worktree_id else None
        state = self.ctx.config.state
        log_file = state.log_file(row.id)
        try:
            last_output = log_file.stat().st_mtime
        except FileNotFoundError:
            last_output = None
        tokens_in, tokens_out, cost, model = self._spend.get(row.id, (0, 0, 0.0, None))
        return SessionView(
            id=row.id,
            agent=row.agent,
            task=row.task,
            status=row.status,
            exit_code=row.exit_code,
            detail=row.status_detail,
            branch=wt.branch if wt else None,
            base=wt.base if wt else None,
            worktree=wt.path if wt else None,
            worktree_state=wt.state if wt else None,
            created_at=row.created_at,
            status_at=row.status_at,
            last_output_at=last_output,
            taken_over=row.taken_over,
            queued=queued,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost=cost,
            model=model,
            git=GitFacts(None, None, None),  # filled in by snapshot() from the cache
            pane=None if host_actions.owner(self.ctx, row) else row.tmux_pane,  # another host's: not here
            log_file=log_file,
            repo=self._repo_name(row.project_id),
            run_id=row.run_id,
            archived=row.archived_at is not None,
            host=row.host,
        )

    def _repo_name(self, project_id: int) -> str:
        if project_id not in self._repos:
            self._repos[project_id] = self.ctx.records.project(project_id).name
        return self._repos[project_id]

    def snapshot(self, selected_id: str | None, include_ended: bool = True) -> Snapshot:
        ctx = self.ctx
        rows = ctx.records.sessions(live_only=not include_ended)
        queued = ctx.ledger.queued_counts()
        self._spend = ctx.usage.per_session()
        worktrees = ctx.records.worktrees()
        views = [self._view(r, queued.get(r.id, 0), worktrees) for r in rows]
        if len({v.repo for v in views}) > 1:  # several repositories: grouped, in order of appearance
            first = {repo: i for i, repo in reversed(list(enumerate(v.repo for v in views)))}
            views.sort(key=lambda v: first[v.repo])
        chosen = next((v for v in views if v.id == selected_id), views[0] if views else None)
        views, selected = self._with_facts(views, chosen)
        points = ctx.usage.points()
        approvals = [
            ApprovalView(
                a.id or 0, a.run_id, a.session_id, a.stage, a.action, approval_summary(a.shown), a.shown
            )
            for a in ctx.runs.approvals(pending_only=True)
        ]
        alerts, last_event = ctx.records.recent_alerts()
        whole = Snapshot(views, None, [], [], points, alerts, last_event, approvals=approvals)
        return self.reselect(whole, selected.id if selected else None)

    def reselect(self, snap: Snapshot, selected_id: str | None) -> Snapshot:
        """`snap` with another session selected: only that session's ledger, gates, run and
        budget are read again (moving through the list does not re-read every session)."""
        selected = next((v for v in snap.sessions if v.id == selected_id), None)
        ledger: list[CommandView] = []
        checks: list[GateView] = []
        if selected is not None:
            for cmd in self.ctx.ledger.rows(selected.id):
                transitions = self.ctx.ledger.transitions(cmd.id or 0)
                ledger.append(
                    CommandView(
                        id=cmd.id or 0,
                        kind=cmd.kind,
                        state=cmd.state,
                        text=cmd.text,
                        actor=cmd.actor,
                        queued_at=cmd.queued_at,
                        changed_at=_changed_at(cmd),
                        cause=transitions[-1].cause if transitions else "",
                    )
                )
            checks = self.checks(selected, ledger)
        run, run_gates = self.focus_run(selected.id if selected else None)
        return replace(
            snap,
            selected=selected,
            ledger=ledger,
            checks=checks,
            run=run,
            run_gates=run_gates,
            budgets=self.budget_lines(snap.usage_points, selected, run),
            race=self.race_lines(run, snap.sessions),
        )

    def race_lines(self, run: RunView | None, sessions: list[SessionView]) -> list[str]:
        """Each entry of the run's latest race: its agent, cost, time, state and result."""
        entries = self.ctx.races.entries(run.id) if run is not None else []
        if not entries:
            return []
        last = (entries[-1].stage, entries[-1].attempt)
        cost = {v.id: v.cost for v in sessions}
        lines = []
        for e in entries:
            if (e.stage, e.attempt) != last:
                continue
            seconds = (e.finished_at or self.clock()) - e.started_at
            spent = cost.get(e.session_id or "", 0.0)
            state = e.result or e.state
            lines.append(f"race {e.stage} · entry {e.number} {e.agent}: ${spent:.4f} {seconds:.0f}s {state}")
        return lines

    def budget_lines(
        self, points: list[tuple[float, float]], selected: SessionView | None, run: RunView | None
    ) -> list[str]:
        cfg = self.ctx.config.budgets
        lines: list[str] = []

        def line(label: str, spent: float, limit: float) -> None:
            share = spent / limit
            mark = " ! new prompts paused" if share >= 1 else " ! warning" if share >= cfg.warn_at else ""
            lines.append(f"budget {label}: ${spent:.2f} of ${limit:.2f} ({share:.0%}){mark}")

        if cfg.day is not None:
            today = day_start(self.clock())
            line("today", sum(cost for at, cost in points if at >= today), cfg.day)
        if cfg.session is not None and selected is not None:
            line(f"session {selected.id}", selected.cost, cfg.session)
        if cfg.run is not None and run is not None:
            line(f"run {run.id}", self.ctx.usage.spent(run_id=run.id), cfg.run)
        return lines

    def focus_run(self, session_id: str | None) -> tuple[RunView | None, list[GateView]]:
        """The selected session's run, else the latest active run, and its current gates."""
        runs = self.ctx.runs.all()
        row = self.ctx.records.find_session(session_id) if session_id else None
        chosen = next((r for r in runs if row is not None and r.id == row.run_id), None)
        if chosen is None:
            active = [r for r in runs if not RunState(r.state).final]
            chosen = active[-1] if active else (runs[-1] if runs else None)
        if chosen is None:
            return None, []
        view = RunView(
            chosen.id, chosen.task, chosen.playbook, chosen.state, chosen.stage, chosen.attempt, chosen.detail
        )
        shown = set((chosen.stage or "").split(", "))  # the stages under way, else the last one
        rows = self.ctx.runs.stages(chosen.id)  # none yet for a run begun before stages had rows
        attempts = {r.stage: r.attempt for r in rows if r.stage in shown} or {
            chosen.stage or "": chosen.attempt
        }
        results = [g for g in self.ctx.runs.gate_results(chosen.id) if attempts.get(g.stage, -1) == g.attempt]
        several = len(attempts) > 1
        return view, [
            GateView(f"{g.stage}: " * several + f"{g.gate_index + 1}. {g.type}", g.state, g.why)
            for g in results
        ]

    @staticmethod
    def checks(view: SessionView, ledger: list[CommandView]) -> list[GateView]:
        """Evidence the engine already has about a session's work."""
        status = SessionStatus(view.status)
        checks = [
            GateView(
                "agent alive",
                "pass" if status.live else "fail",
                view.detail or view.status if not status.live else f"{view.status}",
            )
        ]
        if view.git.ahead is None:
            checks.append(GateView("branch has commits", "pending", "worktree not available"))
        elif view.git.ahead > 0:
            checks.append(GateView("branch has commits", "pass", f"{view.git.ahead} ahead of {view.base}"))
        else:
            checks.append(GateView("branch has commits", "pending", f"no commits beyond {view.base} yet"))
        if view.git.dirty is None:
            checks.append(GateView("work committed", "pending", "worktree not available"))
        elif view.git.dirty == 0:
            checks.append(GateView("work committed", "pass", "worktree clean"))
        else:
            checks.append(GateView("work committed", "pending", f"{view.git.dirty} uncommitted file(s)"))
        prompts = [c for c in ledger if c.kind == CommandKind.PROMPT]
        if not prompts:
            checks.append(GateView("last prompt done", "pending", "no prompt sent yet"))
        else:
            last = prompts[-1]
            verdicts = {
                CommandState.DONE: "pass",
                CommandState.FAILED: "fail",
                CommandState.CANCELLED: "fail",
            }
            state = verdicts.get(CommandState(last.state), "pending")
            checks.append(GateView("last prompt done", state, f"#{last.id} {last.state}: {last.cause}"))
        return checks


def _read_facts(path: str, branch: str, base: str) -> GitFacts:
    if not Path(path).is_dir():
        return GitFacts(None, None, None)
    return GitFacts(*branch_facts(Path(path), branch, base))
