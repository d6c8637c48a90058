"""Budgets per session, per run and per day: warn at `warn_at`, pause new prompts at 100 %.

Limits come from `[budgets]` in the config (session, run, day; US dollars) and a
playbook's `budget_usd` (its runs). Spending is what the usage table holds. A prompt
already with the agent is never cut off; prompts not yet delivered wait, and the run
pauses, until the budget is raised or the operator sends anyway (`send --now`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from orchtui.errors import ConfigError
from orchtui.playbook import load_playbook
from orchtui.services.context import Context
from orchtui.services.events import emit
from orchtui.store.tables import AgentSession


@dataclass(frozen=True)
class Verdict:
    scope: str  # "session", "run" or "day"
    key: str  # the session id, run id or date
    spent: float
    limit: float

    @property
    def share(self) -> float:
        return self.spent / self.limit

    def describe(self) -> str:
        return f"{self.scope} {self.key} spent ${self.spent:.2f} of its ${self.limit:.2f} budget"


def day_start(at: float | None = None) -> float:
    moment = datetime.fromtimestamp(at if at is not None else time.time()).astimezone()
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


class Budgets:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.raised: set[tuple[str, str, str]] = set()  # (scope, key, level) already announced
        self._books: dict[str, float | None] = {}  # run id -> its playbook's budget_usd

    def _run_limit(self, run_id: str) -> float | None:
        if run_id not in self._books:
            run = self.ctx.runs.get(run_id)
            try:
                book = load_playbook(Path(run.playbook_path), {p.name for p in self.ctx.profiles.all()})
                self._books[run_id] = book.budget_usd
            except ConfigError:
                self._books[run_id] = None
        limit = self._books[run_id]
        return limit if limit is not None else self.ctx.config.budgets.run

    def verdicts(self, session: AgentSession) -> list[Verdict]:
        cfg, usage = self.ctx.config.budgets, self.ctx.usage
        out: list[Verdict] = []
        if cfg.session is not None:
            out.append(Verdict("session", session.id, usage.spent(session_id=session.id), cfg.session))
        if session.run_id:
            limit = self._run_limit(session.run_id)
            if limit is not None:
                out.append(Verdict("run", session.run_id, usage.spent(run_id=session.run_id), limit))
        if cfg.day is not None:
            today = day_start()
            stamp = datetime.fromtimestamp(today).strftime("%Y-%m-%d")
            out.append(Verdict("day", stamp, usage.spent(since=today), cfg.day))
        return out

    def check(self, session: AgentSession) -> Verdict | None:
        """After new spending: announce crossings once; return an exhausted budget."""
        exhausted: Verdict | None = None
        for verdict in self.verdicts(session):
            if verdict.share >= 1.0:
                exhausted = exhausted or verdict
                self._announce(verdict, "exceeded", "error", session.id)
            elif verdict.share >= self.ctx.config.budgets.warn_at:
                self._announce(verdict, "warning", "warning", session.id)
        return exhausted

    def _announce(self, verdict: Verdict, level: str, severity: str, session_id: str) -> None:
        mark = (verdict.scope, verdict.key, level)
        if mark in self.raised:
            return
        self.raised.add(mark)
        what = "new prompts paused" if level == "exceeded" else f"{verdict.share:.0%} used"
        emit(
            self.ctx,
            f"budget.{level}",
            f"{verdict.describe()}; {what}",
            severity=severity,
            session_id=session_id,
            scope=verdict.scope,
            key=verdict.key,
            spent=round(verdict.spent, 6),
            limit=verdict.limit,
        )
