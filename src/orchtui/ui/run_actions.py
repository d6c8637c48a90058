"""The dashboard's run actions: a run's memory, answering the approval in the bar
(y approve, x reject with a reason, o what it shows), and the skills its stages use
(S: the skills screen). A mixin of OrchtuiApp."""

from __future__ import annotations

import json
from pathlib import Path

from textual.app import App

from orchtui.engine.context import Context
from orchtui.engine.dashboard import ApprovalView, Snapshot
from orchtui.engine.sessions import operator
from orchtui.engine.skill_catalog import uses
from orchtui.errors import OrchtuiError
from orchtui.ui.background import WorkerErrors, background
from orchtui.ui.modals import PromptScreen, TextScreen


class RunActions(WorkerErrors, App[None]):
    ctx: Context
    snap: Snapshot | None
    repo: Path | None

    @background(group="skills")
    def action_skills(self) -> None:
        """The skills catalog: source, version, trust, where used; v vets one."""
        from orchtui.ui.skills_screen import SkillsScreen  # imported when first opened

        used = uses(self.ctx, self.repo)
        self.call_from_thread(self.push_screen, SkillsScreen(self.ctx, self.repo, used))

    def request_refresh(self) -> None:
        raise NotImplementedError  # the app's

    @background(group="memory")
    def action_memory(self) -> None:
        """The focused run's project memory: plans, reviews and stage summaries."""
        run = self.snap.run if self.snap else None
        if run is None:
            return
        memory = {
            k.removeprefix("memory:"): v
            for k, v in self.ctx.runs.artifacts(run.id).items()
            if k.startswith("memory:")
        }
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
            TextScreen(f"Approval #{approval.id} · run {approval.run_id} (y in the bar approves)", body)
        )

    @background(group="decide")
    def _decide(self, approval_id: int, approve: bool, reason: str | None) -> None:
        try:
            row = self.ctx.runs.decide(approval_id, approve, operator(), reason)
        except OrchtuiError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.ctx.wake_engine(f"approval {approval_id}")
        self.call_from_thread(self.notify, f"{row.state} #{row.id}: {row.stage} {row.action}")
        self.call_from_thread(self.request_refresh)
