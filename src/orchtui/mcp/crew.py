"""What each MCP tool does: a thin call into the services the CLI uses, with the same
validation, capacity checks and ledger rows, the caller recorded as `mcp:<client name>`.

Governance is not the client's to bypass: there is no tool that answers an approval; a
session is refused beyond capacity as it is for the operator; a merge runs the
repository's required checks, and one into a protected branch needs a person's approval
of that branch at its present tip; a tool the operator's `[mcp] allow` leaves out is
neither listed nor callable. Every method returns plain JSON data or raises an
OrchtuiError whose one line is the tool error the client sees."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from orchtui.config import policy_for
from orchtui.errors import NotFound, Refused, UsageError
from orchtui.names import validate_task
from orchtui.playbook import Playbook, Stage, load_playbook
from orchtui.services import approval_requests, engine_process, journal, waiting
from orchtui.services.allocation import plan_stage
from orchtui.services.as_json import (
    approval_json,
    command_json,
    merge_json,
    run_json,
    session_detail_json,
    session_json,
)
from orchtui.services.capacity import Slot
from orchtui.services.cleanup import Cleanup
from orchtui.services.commits import CommitService
from orchtui.services.context import Context
from orchtui.services.gates import evaluate
from orchtui.services.merging import MergeService
from orchtui.services.playbook_files import find_playbook
from orchtui.services.repos import repo_root
from orchtui.services.session_output import read_output
from orchtui.services.sessions import SessionService

WAIT_LIMIT = 3600.0


class Crew:
    """The tools, for one MCP server. `repo` is the repository a tool acts on when it names
    no project (the directory `orchtui mcp` started in, or `--repo`)."""

    def __init__(self, ctx: Context, repo: Path | None) -> None:
        self.ctx = ctx
        self.repo = repo
        self.allowed = ctx.config.mcp.allowed()

    # where ------------------------------------------------------------------
    def _repo(self, project: str | None) -> Path:
        """A repository by path, or by the name of a project orchtui knows."""
        if not project:
            if self.repo is None:
                raise UsageError("project: name the repository (this server did not start in one)")
            return self.repo
        for known in self.ctx.records.projects():
            if project in (known.name, known.path):
                return Path(known.path)
        path = Path(project).expanduser()
        if not path.is_absolute():
            raise UsageError(f"project: {project!r} is neither a known project nor an absolute path")
        return repo_root(path)

    def _project_of(self, about: str) -> tuple[Any, str | None]:
        """The project of a run or a session (by id), and the run id when it is a run."""
        ctx = self.ctx
        run = ctx.runs.find(about)
        if run is not None:
            return ctx.records.project(run.project_id), run.id
        session = ctx.records.find_session(about)
        if session is None:
            raise NotFound(f"run: no run or session {about!r}")
        return ctx.records.project(session.project_id), session.run_id

    def _stage(self, repo: Path, playbook: str, stage: str) -> tuple[Playbook, Stage]:
        book = load_playbook(find_playbook(playbook, repo), {p.name for p in self.ctx.profiles.all()})
        found = next((s for s in book.stages if s.id == stage), None)
        if found is None:
            stages = ", ".join(s.id for s in book.stages)
            raise UsageError(f"stage: playbook {book.name} has no stage {stage!r} (it has {stages})")
        return book, found

    # A. planning and allocation --------------------------------------------
    def plan_stage_allocation(
        self, project: str | None, stage: str, requested_parallelism: int | None, playbook: str
    ) -> dict[str, Any]:
        repo = self._repo(project)
        _, found = self._stage(repo, playbook, stage)
        if requested_parallelism is not None:
            if not 1 <= requested_parallelism <= 20:
                raise UsageError("requested_parallelism: between 1 and 20")
            first = (
                found.roles[0].model_copy(update={"count": requested_parallelism}) if found.roles else None
            )
            found = found.model_copy(update={"roles": ([first] if first else []) + found.roles[1:]})
        return self._plan(repo, found)

    def _plan(self, repo: Path, found: Stage) -> dict[str, Any]:
        """The stage's allocation against the live sessions and the limits."""
        ctx = self.ctx
        known = ctx.records.find_project(str(repo))
        project_id = known.id if known is not None and known.id is not None else -1
        live = [Slot(r.project_id, r.agent, r.role, r.host) for r in ctx.records.sessions(live_only=True)]
        profiles = {p.name: p for p in ctx.profiles.all()}
        plan = plan_stage(found, project_id, ctx.config.limits, live, lambda n: profiles[n].installed())
        return {
            "stage": plan.stage,
            "automation": plan.automation,
            "fillable": plan.fillable,
            "roles": [asdict(a) for a in plan.assignments],
            "live_sessions": len(live),
            "max_sessions": ctx.config.limits.max_sessions,
        }

    def propose_stage_execution(
        self, project: str | None, stage: str, task: str, playbook: str
    ) -> dict[str, Any]:
        """What running the stage would do, for a person to approve (nothing starts)."""
        validate_task(task)
        repo = self._repo(project)
        book, found = self._stage(repo, playbook, stage)
        plan = self._plan(repo, found)
        return {
            "playbook": book.name,
            "task": task,
            "stage": found.id,
            "needs": book.dependencies()[found.id],
            "automation": found.automation,
            "asks_a_person": found.automation in ("human_approval", "manual"),
            "worktree": found.worktree,
            "roles": [
                {"role": r.role, "agents": r.agents, "count": r.count, "prompt": r.prompt, "skill": r.skill}
                for r in found.roles
            ],
            "gates": [g.model_dump(exclude_none=True) for g in found.gates],
            "plan": plan,
        }

    # B. sessions ------------------------------------------------------------
    def create_session(
        self,
        task: str,
        agent: str,
        role: str | None,
        project: str | None,
        prompt: str | None,
        base: str | None,
        worktree_id: int | None,
        caller: str,
    ) -> dict[str, Any]:
        ctx = self.ctx
        service = SessionService(ctx)
        engine_process.ensure_running(ctx.config)
        if worktree_id is not None:
            row = service.join(worktree_id, agent, task, role=role)
            if prompt is not None:
                service.queue(row.id, prompt, cause=f"first prompt, sent by {caller}", actor=caller)
        else:
            row = service.create(self._repo(project), agent, task, base, prompt, role=role, actor=caller)
        return session_json(ctx.records, row)

    def send_command(self, session_id: str, text: str, now: bool, caller: str) -> dict[str, Any]:
        engine_process.ensure_running(self.ctx.config)
        cmd = SessionService(self.ctx).queue(
            session_id, text, cause=f"sent by {caller}", urgent=now, actor=caller
        )
        return command_json(self.ctx.ledger, cmd)

    def read_session_output(self, session_id: str, lines: int) -> dict[str, Any]:
        return read_output(self.ctx, session_id, lines)

    def close_session(self, session_id: str, keep_worktree: bool) -> dict[str, Any]:
        """Stops the agent; refused while its worktree holds uncommitted work, unless the
        worktree is kept (never forced: a program does not throw work away)."""
        report = SessionService(self.ctx).kill(session_id, force=False, keep_worktree=keep_worktree)
        live = len(self.ctx.records.sessions(live_only=True))
        return asdict(report) | {"live_sessions": live, "max_sessions": self.ctx.config.limits.max_sessions}

    def list_sessions(self, include_ended: bool) -> list[dict[str, Any]]:
        rows, worktrees = self.ctx.records.sessions(live_only=not include_ended), self.ctx.records.worktrees()
        return [session_json(self.ctx.records, r, worktrees) for r in rows if r.archived_at is None]

    def wait_for(self, session_id: str, status: str, timeout: float) -> dict[str, Any]:
        ctx = self.ctx
        check = waiting.session_goal(ctx, session_id, status)
        reached = waiting.wait_for(
            ctx, check, max(0.0, min(timeout, WAIT_LIMIT)), f"session {session_id} {status}"
        )
        return {"reached": reached.what, "detail": reached.detail} | {
            "session": session_json(ctx.records, ctx.records.session(session_id))
        }

    # C. workspace and git ---------------------------------------------------
    def create_worktree(
        self, project: str | None, task: str, branch: str | None, path: str | None, base: str | None
    ) -> dict[str, Any]:
        wt = SessionService(self.ctx).make_worktree(
            self._repo(project), task, base, branch, Path(path).expanduser() if path else None
        )
        return {"id": wt.id, "path": wt.path, "branch": wt.branch, "base": wt.base, "state": wt.state}

    def commit_changes(self, session_id: str, message: str, caller: str) -> dict[str, Any]:
        return CommitService(self.ctx).commit(session_id, message, actor=caller).as_dict()

    def merge_worktree(
        self, session_id: str, target: str | None, resolver: str | None, caller: str
    ) -> dict[str, Any]:
        ctx = self.ctx
        wt = Cleanup(ctx).worktree_for(session_id)
        into = target or wt.base
        approval = approval_requests.require_for_merge(ctx, session_id, into, caller)
        if resolver is not None:
            ctx.profiles.get(resolver)
            engine_process.ensure_running(ctx.config)
        row = MergeService(ctx).start(
            wt.id or 0, target=into, resolver=resolver, session_id=session_id, actor=caller
        )
        return merge_json(row) | {"approval": approval.id if approval else None}

    def resolve_merge_conflict(
        self, merge_id: int, session_id: str | None, message: str | None, caller: str
    ) -> dict[str, Any]:
        """With a message: guidance for the merge's resolver agent (its ledger gets the
        prompt). Without: check the resolution and finish the merge, or say what is left."""
        ctx = self.ctx
        row = ctx.merges.get(merge_id)
        if message is None:
            return merge_json(MergeService(ctx).verify(merge_id))
        resolver = session_id or row.resolver_session_id
        if resolver is None:
            raise UsageError(
                f"merge {merge_id} has no resolver agent; a person resolves it (or omit message)"
            )
        if row.resolver_session_id is not None and resolver != row.resolver_session_id:
            raise UsageError(
                f"session {resolver} does not resolve merge {merge_id} ({row.resolver_session_id} does)"
            )
        self.send_command(resolver, message, False, caller)
        return merge_json(ctx.merges.get(merge_id))

    # D. governance and quality ----------------------------------------------
    def request_stage_approval(
        self, run: str, stage: str, proposal: str, wait_seconds: float, caller: str
    ) -> dict[str, Any]:
        row = approval_requests.request(self.ctx, run, stage, proposal, caller)
        if wait_seconds > 0:
            row = approval_requests.wait_decided(self.ctx, row.id or 0, wait_seconds)
        return approval_json(row)

    def run_quality_gate(self, run: str | None, session: str | None) -> dict[str, Any]:
        """A run's stage gates (in the run's worktree), or a session's required merge checks
        (git.required_checks, in its worktree). Checks only: nothing is recorded as a stage's
        result and nothing advances."""
        ctx = self.ctx
        if (run is None) == (session is None):
            raise UsageError("give run or session (one of them)")
        artifacts: dict[str, str] = {}
        if session is not None:
            wt = Cleanup(ctx).worktree_for(session)
            repo = Path(ctx.records.project(wt.project_id).path)
            gates = policy_for(repo, checks=True).required_checks
            where, values = Path(wt.path), {"branch": wt.branch, "base": wt.base}
            what = f"session {session}"
        else:
            assert run is not None
            row = ctx.runs.get(run)
            book = load_playbook(Path(row.playbook_path), {p.name for p in ctx.profiles.all()})
            stage = (row.stage or book.stages[0].id).split(",")[0].strip()
            gates = book.stage(stage).gates
            if row.worktree_id is None:
                raise Refused(f"run {run} has no worktree yet")
            wt = ctx.records.worktree(row.worktree_id)
            where, values = (
                Path(wt.path),
                {"branch": wt.branch, "base": wt.base, "task": row.task, "stage": stage},
            )
            what = f"run {run} stage {stage}"
            artifacts = ctx.runs.artifacts(run)  # what the run recorded, as the advancer gives it
        if not where.is_dir():
            raise Refused(f"{what}: its worktree {where} is gone")
        results = []
        for gate in gates:
            outcome = evaluate(gate, where, artifacts=artifacts, values=values)
            results.append(
                {
                    "gate": gate.type,
                    "state": outcome.state,
                    "why": outcome.why,
                    "evidence": outcome.evidence[-2000:],
                }
            )
        passed = all(r["state"] in ("pass", "warn") for r in results)
        return {"about": what, "passed": passed, "gates": results}

    def write_project_memory(self, run: str, kind: str, text: str, caller: str) -> dict[str, Any]:
        project, run_id = self._project_of(run)
        return asdict(journal.add(self.ctx, project, kind, text, caller, run_id))

    def read_project_memory(self, run: str, kind: str | None) -> list[dict[str, Any]]:
        project, _ = self._project_of(run)
        if kind is not None and kind not in journal.KINDS:
            raise UsageError(f"kind: {kind!r} is not one of {', '.join(journal.KINDS)}")
        return [asdict(e) for e in journal.entries(self.ctx, project, kind)]

    # resources --------------------------------------------------------------
    def sessions_resource(self) -> list[dict[str, Any]]:
        return self.list_sessions(include_ended=True)

    def session_resource(self, session_id: str) -> dict[str, Any]:
        ctx = self.ctx
        return session_detail_json(ctx.records, ctx.ledger, ctx.records.session(session_id))

    def runs_resource(self) -> list[dict[str, Any]]:
        return [run_json(self.ctx.runs, r) for r in self.ctx.runs.all()]

    def run_resource(self, run_id: str) -> dict[str, Any]:
        return run_json(self.ctx.runs, self.ctx.runs.get(run_id))

    def approvals_resource(self) -> list[dict[str, Any]]:
        return [approval_json(a) for a in self.ctx.runs.approvals()]
