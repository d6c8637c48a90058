"""What an operator sees of a run's races and does to them: the comparison of a racing
stage's entries (agent, gates with evidence, diff stat, cost, time, score) and the pick
of `pick: operator` (engine/race.py carries it out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from orchtui.domain import RunState
from orchtui.errors import NotFound, Refused
from orchtui.playbook import load_playbook
from orchtui.runtime.git import GitRepo
from orchtui.runtime.git_changes import changed_files
from orchtui.services.context import Context
from orchtui.services.events import emit
from orchtui.services.race_score import metrics_of
from orchtui.store.db import now
from orchtui.store.tables import RaceEntry, Run


@dataclass(frozen=True)
class GateLine:
    index: int
    type: str
    state: str
    why: str
    evidence: str


@dataclass(frozen=True)
class EntryView:
    number: int
    agent: str
    state: str  # starting | working | gating | passed | failed | stopped
    result: str | None  # won | lost
    score: float | None
    cost_usd: float
    seconds: float
    files: int
    added: int
    deleted: int
    branch: str | None
    worktree: str | None
    base: str | None  # what its branch started from (the run's branch)
    kept_ref: str | None
    session_id: str | None
    picked: bool
    gates: list[GateLine] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        data = self.__dict__.copy()
        data["gates"] = [g.__dict__ for g in self.gates]
        return data


@dataclass(frozen=True)
class RaceView:
    run_id: str
    stage: str
    attempt: int
    pick: str
    count: int
    decided: bool
    entries: list[EntryView]

    @property
    def awaiting_pick(self) -> bool:
        """Every entry is judged and the operator is to pick."""
        finished = all(e.state in ("passed", "failed", "stopped") for e in self.entries)
        return self.pick == "operator" and not self.decided and finished and bool(self.entries)

    def as_dict(self) -> dict[str, object]:
        data = {k: v for k, v in self.__dict__.items() if k != "entries"}
        return data | {"awaiting_pick": self.awaiting_pick, "entries": [e.as_dict() for e in self.entries]}


def _diff_stat(ctx: Context, run: Run, entry: RaceEntry) -> tuple[int, int, int]:
    """Files changed, lines added and deleted by the entry against where it started."""
    wt = ctx.records.worktree(entry.worktree_id) if entry.worktree_id else None
    try:
        if wt is not None and Path(wt.path).is_dir():
            changes = changed_files(Path(wt.path), wt.base)
            return len(changes), sum(c.added for c in changes), sum(c.deleted for c in changes)
        if wt is not None and entry.kept_ref:
            repo = GitRepo(Path(ctx.records.project(run.project_id).path))
            out = repo.repo.git.diff("--numstat", f"{wt.base}...{entry.kept_ref}")
            rows = [line.split("\t") for line in out.splitlines() if line.count("\t") >= 2]
            numbers = [(int(a), int(d)) for a, d, _ in rows if a.isdigit() and d.isdigit()]
            return len(rows), sum(a for a, _ in numbers), sum(d for _, d in numbers)
    except Exception:  # a repository moved or pruned since: the rest of the comparison stands
        return 0, 0, 0
    return 0, 0, 0


def races(ctx: Context, run_id: str) -> list[RaceView]:
    """Every race of a run, one per racing stage and attempt, in order."""
    run = ctx.runs.get(run_id)
    entries = ctx.races.entries(run_id)
    if not entries:
        return []
    book = load_playbook(Path(run.playbook_path), {p.name for p in ctx.profiles.all()})
    results = ctx.runs.gate_results(run_id)
    views = []
    for stage_id, attempt in dict.fromkeys((e.stage, e.attempt) for e in entries):
        stage = book.stage(stage_id)
        mine = [e for e in entries if (e.stage, e.attempt) == (stage_id, attempt)]
        shown = []
        for entry in mine:
            metrics = metrics_of(entry)
            files, added, deleted = _diff_stat(ctx, run, entry)
            gates = [
                GateLine(g.gate_index, g.type, g.state, g.why, g.evidence)
                for g in results
                if (g.stage, g.attempt, g.entry) == (stage_id, attempt, entry.number)
            ]
            cost = ctx.usage.spent(session_id=entry.session_id) if entry.session_id else 0.0
            wt = ctx.records.worktree(entry.worktree_id) if entry.worktree_id else None
            seconds = float(metrics.get("time_s", (entry.finished_at or now()) - entry.started_at))
            shown.append(
                EntryView(
                    number=entry.number,
                    agent=entry.agent,
                    state=entry.state,
                    result=entry.result,
                    score=entry.score,
                    cost_usd=round(cost, 6),
                    seconds=round(seconds, 1),
                    files=files,
                    added=added,
                    deleted=deleted,
                    branch=entry.branch,
                    worktree=wt.path if wt else None,
                    base=wt.base if wt else None,
                    kept_ref=entry.kept_ref,
                    session_id=entry.session_id,
                    picked=entry.picked_at is not None,
                    gates=gates,
                )
            )
        pick = stage.race.pick if stage.race else "best_score"
        count = stage.race.count if stage.race else len(mine)
        decided = any(e.result for e in mine)
        views.append(RaceView(run_id, stage_id, attempt, pick, count, decided, shown))
    return views


def current(ctx: Context, run_id: str) -> RaceView:
    """The run's race still undecided (the latest one)."""
    open_ = [v for v in races(ctx, run_id) if not v.decided]
    if not open_:
        raise NotFound(f"run {run_id} has no race under way")
    return open_[-1]


def pick(ctx: Context, run_id: str, number: int, who: str) -> RaceEntry:
    """The operator's choice of a race's winner (`pick: operator`): recorded, and the
    run's engine woken to carry it out. Refused before the entry's gates have run."""
    run = ctx.runs.get(run_id)
    if RunState(run.state).final:
        raise Refused(f"run {run_id} is {run.state}: nothing to pick")
    view = current(ctx, run_id)
    if view.pick != "operator":
        raise Refused(f"the race of {view.stage} picks by {view.pick}, not by the operator")
    entries = {e.number: e for e in ctx.races.entries(run_id, view.stage, view.attempt)}
    entry = entries.get(number)
    if entry is None or entry.id is None:
        raise NotFound(f"the race of {view.stage} has entries 1 to {view.count}, not {number}")
    if entry.state not in ("passed", "failed"):
        raise Refused(f"entry {number} is {entry.state}: pick it once its gates have run")
    picked = ctx.races.update(entry.id, picked_at=now(), picked_by=who)
    emit(
        ctx,
        "race.picked",
        f"run {run_id}: {who} picked entry {number} ({entry.agent}) of the race of {view.stage}"
        + ("" if entry.state == "passed" else ", though its gates failed"),
        "notice",
        run=run_id,
        stage=view.stage,
        entry=number,
    )
    ctx.wake_engine(f"race pick {run_id}", host=run.host)
    return picked
