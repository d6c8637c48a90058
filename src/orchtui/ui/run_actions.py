"""The dashboard's run actions: a run's memory, answering the approval in the bar
(y approve, x reject with a reason, o what it shows), pausing or resuming the run (p),
retrying its stage (G), cancelling it (C), and the skills its stages use (S: the skills
screen). A mixin of OrchtuiApp."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from textual.app import App

from orchtui.domain import RunState
from orchtui.errors import OrchtuiError
from orchtui.services import run_control
from orchtui.services.context import Context
from orchtui.services.dashboard import ApprovalView, RunView, Snapshot
from orchtui.services.sessions import operator
from orchtui.services.skill_catalog import uses
from orchtui.ui.background import WorkerErrors, background
from orchtui.ui.modals import ConfirmScreen, PromptScreen, TextScreen


class RunActions(WorkerErrors, App[None]):
    ctx: Context
    clock: Callable[[], float]
    snap: Snapshot | None
    repo: Path | None

    @background(group="skills")
    def action_skills(self) -> None:
        """The skills catalog: source, version, trust, where used; v vets one."""
        from orchtui.ui.skills_screen import SkillsScreen  # imported when first opened

        used = uses(self.ctx, self.repo)
        self.call_from_thread(self.push_screen, SkillsScreen(self.ctx, self.repo, used))

    def action_hosts(self) -> None:
        """The fleet's workers (docs/scale-out.md)."""
        from orchtui.ui.hosts_screen import HostsScreen  # imported when first opened

        self.push_screen(HostsScreen(self.ctx, self.clock))

    def action_race(self) -> None:
        """The race of the selected session's run (else of the latest active run), side by side."""
        from orchtui.ui.race_screen import RaceScreen  # imported when first opened

        run_id = self._race_run()
        if run_id is None:
            self.notify("No race: select an agent of a run whose stage races.", severity="warning")
            return
        self.push_screen(RaceScreen(self.ctx, run_id, self._open_entry_diff))

    def _race_run(self) -> str | None:
        """The selected session's run (else the latest active one) when it has a race: what
        the snapshot already holds, so the UI thread reads no store."""
        snap = self.snap
        return snap.run.id if snap is not None and snap.run is not None and snap.race else None

    def _open_entry_diff(self, session_id: str, worktree: Path, base: str) -> None:
        from orchtui.ui.diff import DiffScreen

        self.push_screen(DiffScreen(session_id, worktree, base, self._diff_comment))

    def _diff_comment(self, sid: str, text: str) -> None:
        raise NotImplementedError  # the app's

    def request_refresh(self) -> None:
        raise NotImplementedError  # the app's

    @background(group="memory")
    def action_memory(self) -> None:
        """The focused run's project memory: plans, reviews and stage summaries."""
        run = self.snap.run if self.snap else None
        if run is None:
            return
        memory = run_control.memory(self.ctx, run.id)
        text = "\n\n".join(f"━━ {name}\n{body}" for name, body in memory.items()) or "Nothing recorded yet."
        self.call_from_thread(self.push_screen, TextScreen(f"Memory · run {run.id} · {run.task}", text))

    def _pending(self) -> ApprovalView | None:
        return self.snap.approvals[0] if self.snap and self.snap.approvals else None

    def action_approve_run(self) -> None:
        approval = self._pending()
        if approval is not None:
            self._decide(approval.id, True, None)

    def action_reject_run(self) -> None:
        approval = self._pending()
        if approval is None:
            return

        def done(reason: str | None) -> None:
            if reason is not None:
                self._decide(approval.id, False, reason.strip())

        self.push_screen(PromptScreen(f"Reject approval #{approval.id}: why?"), done)

    def action_approval_details(self) -> None:
        approval = self._pending()
        if approval is None:
            return
        body = json.dumps(json.loads(approval.shown), indent=2)
        self.push_screen(
            TextScreen(f"Approval #{approval.id} · {approval.about} (y in the bar approves)", body)
        )

    @background(group="decide")
    def _decide(self, approval_id: int, approve: bool, reason: str | None) -> None:
        try:
            row = run_control.answer(self.ctx, approval_id, approve, operator(), reason)
        except OrchtuiError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.call_from_thread(self.notify, f"{row.state} #{row.id}: {row.stage} {row.action}")
        self.call_from_thread(self.request_refresh)

    def _focused_run(self) -> RunView | None:
        run = self.snap.run if self.snap else None
        if run is None:
            self.notify("No run in view.", severity="warning")
        return run

    def action_pause_run(self) -> None:
        """Pause the run in view, or resume it when it is paused."""
        if (run := self._focused_run()) is not None:
            self._run_control("resume" if run.state == RunState.PAUSED else "pause", run.id)

    def action_retry_run(self) -> None:
        if (run := self._focused_run()) is not None:
            self._run_control("retry", run.id)

    def action_cancel_run(self) -> None:
        if (run := self._focused_run()) is None:
            return
        run_id = run.id
        question = (
            f"Cancel run {run_id}?\nIts agents stop; worktrees, branches and what it recorded are kept."
        )

        def done(answer: str | None) -> None:
            if answer == "cancel":
                self._run_control("cancel", run_id)

        self.push_screen(
            ConfirmScreen(question, [("n", "Keep running", ""), ("y", "Cancel run", "cancel")]), done
        )

    @background(group="run-control")
    def _run_control(self, verb: str, run_id: str) -> None:
        who = operator()
        try:
            if verb == "pause":
                row = run_control.pause(self.ctx, run_id, who)
                said = f"paused {row.id} at stage {row.stage}"
            elif verb == "resume":
                row, how = run_control.resume(self.ctx, run_id, who)
                said = f"resumed {row.id}: {how}"
            elif verb == "retry":
                row = run_control.retry(self.ctx, run_id, who)
                said = f"retrying {row.id}: stage {row.stage}, attempt {row.attempt}"
            else:
                row, stopped = run_control.cancel(self.ctx, run_id, who)
                said = f"cancelled {row.id}; {len(stopped)} agent(s) stopped, worktrees kept"
        except OrchtuiError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.call_from_thread(self.notify, said)
        self.call_from_thread(self.request_refresh)
