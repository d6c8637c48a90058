"""The dashboard's outlets for calling the operator (the policy is services/notify.py):
the terminal bell and a desktop notification through the terminal (OSC 9 and OSC 777,
wrapped for tmux when the dashboard runs inside it), and the count of waiting agents in
the terminal's title. News comes from comparing each snapshot with the one before: a
session that became waiting, errored or ended unexpectedly, an approval newly pending."""

from __future__ import annotations

import os
from collections.abc import Callable

from orchtui.config import NotifyConfig
from orchtui.domain import SessionStatus
from orchtui.services.dashboard import Snapshot
from orchtui.services.notify import Call, News, Notifier, news_of, osc, title_sequence, who


class TerminalCaller:
    def __init__(
        self,
        config: NotifyConfig,
        write: Callable[[str], None],
        clock: Callable[[], float],
        later: Callable[[float, Callable[[], None]], object],
    ) -> None:
        """`write` reaches the terminal; `later(seconds, callback)` schedules on the UI loop."""
        self.config = config
        self.write = write
        self.clock = clock
        self.later = later
        self.notifier = Notifier(config)
        self.statuses: dict[str, str] | None = None  # the last snapshot's, by session
        self.approvals: set[int] = set()
        self.waiting: int | None = None
        self.scheduled = False
        self.calls: list[Call] = []  # what was called, in order (what tests read)
        self.inside_tmux = bool(os.environ.get("TMUX"))

    def observe(self, snap: Snapshot) -> None:
        statuses = {v.id: v.status for v in snap.sessions}
        approvals = {a.id for a in snap.approvals}
        if self.statuses is not None:  # the first look is what was already there: no news
            at = self.clock()
            for view in snap.sessions:
                news = news_of(self.statuses.get(view.id), view.status, view.exit_code, view.id)
                if news is not None:
                    self.notifier.add(News(news.kind, who(view.id, view.agent, view.task)), at)
            for approval in snap.approvals:
                if approval.id not in self.approvals:
                    self.notifier.add(
                        News("approval", f"{approval.about}: {approval.action} {approval.stage}"), at
                    )
            self._schedule()
        self.statuses, self.approvals = statuses, approvals
        waiting = sum(1 for v in snap.sessions if v.status == SessionStatus.WAITING)
        if waiting != self.waiting:
            self.waiting = waiting
            self.write(title_sequence(waiting))

    def _schedule(self) -> None:
        wait = self.notifier.next_due(self.clock())
        if wait is not None and not self.scheduled:
            self.scheduled = True
            self.later(wait, self._fire)

    def _fire(self) -> None:
        self.scheduled = False
        call = self.notifier.due(self.clock())
        if call is not None:
            self.calls.append(call)
            out = osc(call, self.inside_tmux) if self.config.terminal else ""
            if self.config.bell:
                out += "\x07"
            if out:
                self.write(out)
        self._schedule()
