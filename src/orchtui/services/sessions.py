"""Creating, killing and taking over agent sessions (worktree + tmux window + rows)."""

from __future__ import annotations

import getpass
import json
import os
import secrets
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from orchtui.config import policy_for
from orchtui.controls import paste_safe
from orchtui.domain import CommandKind, CommandState, SessionStatus, WorktreeState
from orchtui.drivers import driver
from orchtui.errors import OrchtuiError, Refused, UsageError
from orchtui.names import validate_branch, validate_task
from orchtui.paths import StatePaths
from orchtui.profiles import AgentProfile
from orchtui.runtime import launch, refguard
from orchtui.runtime.git import GitRepo
from orchtui.services import fleet, host_actions, pane_logs, supervision
from orchtui.services.capacity import Slot, refusal
from orchtui.services.context import Context, project_slug
from orchtui.services.events import emit
from orchtui.services.fork_summary import fork_summary
from orchtui.services.session_files import session_files
from orchtui.store.db import now
from orchtui.store.tables import AgentSession, Command, Project, Worktree


@dataclass
class KillReport:
    session_id: str
    window_killed: bool
    worktree: str | None
    worktree_state: str | None
    branch: str | None
    rescue_ref: str | None = None
    cancelled: list[int] = field(default_factory=list)


def new_session_id(ctx: Context) -> str:
    while True:
        candidate = secrets.token_hex(3)
        if ctx.records.find_session(candidate) is None:
            return candidate


def operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


class SessionService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # create ---------------------------------------------------------------
    def create(
        self,
        repo_path: Path,
        agent: str,
        task: str,
        base: str | None = None,
        prompt: str | None = None,
        role: str | None = None,
        run_id: str | None = None,
        env: dict[str, str] | None = None,
        actor: str | None = None,
        supervisor: bool = False,
        host: str | None = None,
        markers: list[str] | None = None,
    ) -> AgentSession:
        """`actor` is who asks (recorded with the first prompt): the OS user unless an MCP
        client (`mcp:<name>`) or the web (`web:<name>`) does. `host`: the fleet's worker
        that runs it, asked through the store when it is another (default: this one while
        it has the agent and room, else the live host with the most; services/fleet.py).
        `markers`: regexes that also end its turns (a stage's completion marker)."""
        ctx = self.ctx
        if host is None and ctx.store.shared and run_id is None:  # a fleet: where there is room
            host = fleet.place(ctx, agent)
        if host is not None and host != ctx.config.host:
            args: dict[str, object] = {"repo": str(repo_path), "agent": agent, "task": task, "base": base}
            args |= {"prompt": prompt, "supervisor": supervisor, "role": role, "run_id": run_id}
            args |= {"env": env or {}, "markers": markers or []}
            made = host_actions.ask(ctx, host, "create", None, args, actor or operator())
            return ctx.records.session(str(made["id"]))
        profile = ready(ctx.profiles.get(agent), env)  # before a worktree or branch is made
        if supervisor:
            supervision.check_can_supervise(profile, driver(profile.driver).supervises)
        if prompt is not None and not prompt.strip():
            raise UsageError("--prompt: the prompt is empty")
        with ctx.store.creation_lock(ctx.config.state.run / "create.lock"):
            project, wt = self._new_worktree(
                repo_path, task, base, lambda p: self._check_capacity(p, profile, role)
            )
            try:
                row = self._start(
                    profile, project, wt, task, role, run_id, env, supervisor=supervisor, markers=markers
                )
            except OrchtuiError:
                self._remove_new(wt)
                raise
        if prompt is not None:
            ctx.ledger.enqueue(row.id, prompt, actor=actor or operator(), cause="first prompt of session new")
        ctx.wake_engine(f"new {row.id}", host=row.host)
        return row

    def make_worktree(
        self,
        repo_path: Path,
        task: str,
        base: str | None = None,
        branch: str | None = None,
        path: Path | None = None,
    ) -> Worktree:
        """A worktree and branch for `task` with no agent in it yet (a run's own, before
        a stage that works elsewhere needs to branch from it). `branch` and `path` replace
        the usual `<prefix><task>` and `<worktree root>/<repository>/<task>`: the branch
        must pass the git policy, the path must lie under the worktree root."""
        with self.ctx.store.creation_lock(self.ctx.config.state.run / "create.lock"):
            return self._new_worktree(repo_path, task, base, lambda _project: None, branch, path)[1]

    def _new_worktree(
        self,
        repo_path: Path,
        task: str,
        base: str | None,
        check: Callable[[int], None],
        branch_name: str | None = None,
        where: Path | None = None,
    ) -> tuple[Project, Worktree]:
        """Validated names, the worktree made and set up, and its record (under create.lock)."""
        ctx = self.ctx
        validate_task(task)
        repo = GitRepo(repo_path)
        base_name = repo.resolve_base(base)
        branch = validate_branch(branch_name or f"{ctx.config.worktrees.branch_prefix}{task}")
        if branch_name is not None and (problem := policy_for(repo.root).branch_problem(branch)):
            raise Refused(f"branch: {problem}")
        slug = project_slug(repo.root)
        root = ctx.config.worktree_root
        path = (where or root / slug / task).resolve()
        if not path.is_relative_to(root):
            raise UsageError(f"worktree {path} would lie outside the worktree root {root}")
        ctx.config.refuse_untrusted("worktrees.setup_command")  # before anything is made
        project = ctx.records.project_for(str(repo.root), repo.root.name, f"orchtui-{slug}")
        assert project.id is not None
        check(project.id)
        repo.create_worktree(path, branch, base_name)
        try:
            repo.copy_into(path, ctx.config.worktrees.copy_files)
            if ctx.config.worktrees.setup_command:
                repo.run_setup(path, ctx.config.worktrees.setup_command, ctx.config.worktrees.setup_timeout)
        except OrchtuiError:
            self._undo_worktree(repo, path, branch, base_name)
            raise
        wt = ctx.records.add_worktree(
            Worktree(
                project_id=project.id,
                path=str(path),
                branch=branch,
                base=base_name,
                state=WorktreeState.ACTIVE,
                created_at=now(),
            )
        )
        return project, wt

    def _remove_new(self, wt: Worktree) -> None:
        """Undo a worktree made for a session that could not start."""
        repo = GitRepo(Path(self.ctx.records.project(wt.project_id).path))
        self._undo_worktree(repo, Path(wt.path), wt.branch, wt.base)
        self.ctx.records.update_worktree(wt.id or 0, state=WorktreeState.REMOVED, removed_at=now())

    def join(
        self,
        worktree_id: int,
        agent: str,
        label: str,
        role: str | None = None,
        run_id: str | None = None,
        env: dict[str, str] | None = None,
        supervisor: bool = False,
        host: str | None = None,
        markers: list[str] | None = None,
    ) -> AgentSession:
        """Start another agent in an existing worktree (a run's shared worktree), on
        `host` (another: asked through the store; the worktree must be on a disk it shares)."""
        ctx = self.ctx
        if host is not None and host != ctx.config.host:
            args: dict[str, object] = {"worktree_id": worktree_id, "agent": agent, "label": label}
            args |= {"role": role, "run_id": run_id, "env": env or {}, "supervisor": supervisor}
            args |= {"markers": markers or []}
            made = host_actions.ask(ctx, host, "join", None, args, operator())
            return ctx.records.session(str(made["id"]))
        profile = ready(ctx.profiles.get(agent), env)
        if supervisor:
            supervision.check_can_supervise(profile, driver(profile.driver).supervises)
        validate_task(label)
        wt = ctx.records.worktree(worktree_id)
        if wt.state != WorktreeState.ACTIVE or not Path(wt.path).is_dir():
            raise UsageError(f"worktree {wt.path} is {wt.state}; cannot start an agent in it")
        with ctx.store.creation_lock(ctx.config.state.run / "create.lock"):
            project = ctx.records.project(wt.project_id)
            assert project.id is not None
            self._check_capacity(project.id, profile, role)
            row = self._start(
                profile, project, wt, label, role, run_id, env, supervisor=supervisor, markers=markers
            )
        ctx.wake_engine(f"new {row.id}", host=ctx.config.host)
        return row

    def _start(
        self,
        profile: AgentProfile,
        project: Project,
        wt: Worktree,
        task: str,
        role: str | None,
        run_id: str | None,
        env: dict[str, str] | None = None,
        fork_args: list[str] | None = None,
        supervisor: bool = False,
        markers: list[str] | None = None,
    ) -> AgentSession:
        """Rows and tmux window for one agent in `wt` (the caller holds the creation lock);
        `env` adds to the agent's environment (e.g. a stage's permission for run_bash);
        `fork_args`: the driver's arguments that resume a copy of another's conversation."""
        ctx = self.ctx
        assert project.id is not None
        at = now()
        row = ctx.records.add_session(
            AgentSession(
                id=new_session_id(ctx),
                project_id=project.id,
                worktree_id=wt.id,
                agent=profile.name,
                task=task,
                role=role,
                run_id=run_id,
                status=SessionStatus.STARTING,
                tmux_session=project.tmux_session,
                markers=json.dumps(markers) if markers else None,
                created_at=at,
                updated_at=at,
                status_at=at,
            )
        )
        if supervisor:  # before the launch, which hands it to the agent (and every restart finds it)
            session_dir = ctx.config.state.session_dir(row.id)
            session_dir.mkdir(parents=True, exist_ok=True)
            supervision.write_mcp_config(session_dir, ctx.config.state.home, Path(project.path))
        row = self._launch(
            profile, row, Path(wt.path), project.tmux_session, added_env=env, fork_args=fork_args
        )
        emit(
            ctx,
            "session.created",
            f"{profile.name} on {wt.branch}",
            session_id=row.id,
            agent=profile.name,
            task=task,
            branch=wt.branch,
            worktree=wt.path,
            role=role,
            run=run_id,
        )
        return row

    def _check_capacity(self, project_id: int, profile: AgentProfile, role: str | None = None) -> None:
        live = [
            Slot(r.project_id, r.agent, r.role, r.host) for r in self.ctx.records.sessions(live_only=True)
        ]
        refused = refusal(
            self.ctx.config.limits, live, Slot(project_id, profile.name, role, self.ctx.config.host)
        )
        if refused is not None:
            raise Refused(refused.message)

    def _launch(
        self,
        profile: AgentProfile,
        row: AgentSession,
        path: Path,
        tmux_session: str,
        resume: str | None = None,
        added_env: dict[str, str] | None = None,
        fork_args: list[str] | None = None,
    ) -> AgentSession:
        """Open the agent's tmux window; the row gets its window and pane, or, when tmux
        refuses, ends as exited with the reason (and the error is raised). `fork_args`:
        the driver's arguments that resume a copy of another session's conversation."""
        state = self.ctx.config.state
        session_dir = state.session_dir(row.id)
        session_dir.mkdir(parents=True, exist_ok=True)
        values = {
            "python": sys.executable,
            "worktree": str(path),
            "session_id": row.id,
            "session_dir": str(session_dir),
            "task": row.task,
            "home": str(state.home),
        }
        argv, env = profile.render(values)
        extra_args, extra_env = driver(profile.driver).launch(session_files(self.ctx, row), resume)
        argv += extra_args + (fork_args or [])
        env.update(extra_env)
        for name in profile.pass_env:
            if name in os.environ:
                env[name] = os.environ[name]
        protected = policy_for(Path(self.ctx.records.project(row.project_id).path)).protected
        env.update(refguard.agent_env(refguard.install(state.home / "githooks"), protected))
        env.update(added_env or {})
        if profile.unset_env:
            env[launch.UNSET_ENV] = ",".join(profile.unset_env)
        env[launch.NICE_ENV] = str(self.ctx.config.limits.agent_nice)
        env.update({"ORCHTUI_SESSION_ID": row.id, "ORCHTUI_HOME": str(state.home)})
        if row.run_id:  # `"$ORCHTUI_ARTIFACT" --kind url --label preview URL` records evidence,
            # `"$ORCHTUI_MEMORY" --kind decision TEXT` a decision for later runs
            env.update(
                {
                    "ORCHTUI_RUN_ID": row.run_id,
                    "ORCHTUI_ARTIFACT": str(helper_command(state, "artifact", "artifact")),
                    "ORCHTUI_MEMORY": str(helper_command(state, "memory", "memory")),
                }
            )
        try:
            window_id, pane_id = self.ctx.tmux.create_window(
                tmux_session, row.task, path, argv, env, row.id, state.log_file(row.id)
            )
        except OrchtuiError as exc:
            self.ctx.records.update_session(
                row.id,
                status=SessionStatus.EXITED,
                status_detail=f"launch failed: {exc}",
                ended_at=now(),
            )
            raise
        # the window is in this host's tmux: this host's engine follows it (a restart may move it here)
        return self.ctx.records.update_session(
            row.id, tmux_window=window_id, tmux_pane=pane_id, host=self.ctx.config.host
        )

    @staticmethod
    def _undo_worktree(repo: GitRepo, path: Path, branch: str, base: str) -> None:
        """Roll back a worktree orchtui created a moment ago. Its branch is deleted only
        while it still points at the base commit (it holds no work)."""
        if path.exists():
            repo.remove_worktree(path, force=True)
        if repo.branch_exists(branch) and repo.repo.git.rev_parse(branch) == repo.repo.git.rev_parse(base):
            repo.repo.git.branch("-D", branch)

    # kill -----------------------------------------------------------------
    def kill(self, session_id: str, force: bool = False, keep_worktree: bool = False) -> KillReport:
        ctx = self.ctx
        row = ctx.records.session(session_id)
        if (host := host_actions.owner(ctx, row)) is not None and SessionStatus(row.status).live:
            args = {"force": force, "keep_worktree": keep_worktree}
            return KillReport(**host_actions.ask(ctx, host, "kill", session_id, args, operator()))
        if host is not None:  # a silent host's session: its worktree is on that disk, judged there,
            keep_worktree = True  # and its window, if it still runs, is stopped when the host is back
            if row.status == SessionStatus.LOST:
                ctx.records.update_session(
                    session_id, status=SessionStatus.KILLED, status_detail="killed by operator"
                )
        wt = ctx.records.worktree(row.worktree_id) if row.worktree_id else None
        wt_path = Path(wt.path) if wt else None
        dirty: list[str] = []
        if wt is not None and wt.state == WorktreeState.ACTIVE and wt_path is not None:
            dirty = GitRepo.dirty_files(wt_path)
            if dirty and not force and not keep_worktree:
                listing = ", ".join(line[3:] for line in dirty[:5]) + (" …" if len(dirty) > 5 else "")
                raise Refused(
                    f"session {session_id}: worktree {wt_path} has {len(dirty)} uncommitted "
                    f"change(s) ({listing}); commit them, use --keep-worktree, or --force "
                    f"(saves them to refs/orchtui/rescue/{session_id} first)"
                )
        window_killed, cancelled = self.stop(session_id, "killed by operator")
        report = KillReport(
            session_id,
            window_killed,
            str(wt_path) if wt_path else None,
            wt.state if wt else None,
            wt.branch if wt else None,
            cancelled=cancelled,
        )
        shared = [r for r in ctx.records.sessions(live_only=True) if r.worktree_id == row.worktree_id]
        if wt is not None and wt_path is not None and wt.state == WorktreeState.ACTIVE and not shared:
            if keep_worktree:
                ctx.records.update_worktree(wt.id or 0, state=WorktreeState.KEPT)
                report.worktree_state = WorktreeState.KEPT
            else:
                project = ctx.records.project(row.project_id)
                repo = GitRepo(Path(project.path))
                if dirty:
                    report.rescue_ref = f"refs/orchtui/rescue/{session_id}"
                    GitRepo.rescue(wt_path, report.rescue_ref)
                if wt_path.exists():
                    repo.remove_worktree(wt_path, force=bool(dirty))
                ctx.records.update_worktree(
                    wt.id or 0,
                    state=WorktreeState.REMOVED,
                    removed_at=now(),
                    rescue_ref=report.rescue_ref,
                )
                report.worktree_state = WorktreeState.REMOVED
        if report.worktree_state in (None, WorktreeState.REMOVED):
            pane_logs.remove(ctx.config.state, session_id)  # nothing left to look at: its output goes too
        emit(
            ctx,
            "session.killed",
            "killed by operator",
            session_id=session_id,
            force=force,
            worktree_state=report.worktree_state,
            rescue_ref=report.rescue_ref,
        )
        ctx.wake_engine(f"kill {session_id}", host=ctx.config.host)
        return report

    # fork -----------------------------------------------------------------
    def fork(self, session_id: str, task: str | None = None) -> tuple[AgentSession, bool]:
        """A new session in a new worktree branched from this session's branch, resuming a
        copy of its conversation where the agent can (Claude Code, Codex); otherwise a new
        conversation whose first prompt summarises the other's (its prompts and commits).
        The new session, and whether its conversation was copied."""
        ctx = self.ctx
        source = ctx.records.session(session_id)
        wt = self._usable_worktree(source)
        if wt is None:
            raise Refused(f"session {session_id}: its worktree is gone; nothing to fork from")
        project = ctx.records.project(source.project_id)
        profile = ready(ctx.profiles.get(source.agent), None)
        name = task or self._free_task(GitRepo(Path(project.path)), f"{source.task}-fork")
        with ctx.store.creation_lock(ctx.config.state.run / "create.lock"):
            project, new_wt = self._new_worktree(
                Path(project.path), name, wt.branch, lambda p: self._check_capacity(p, profile, source.role)
            )
            conversation = source.conversation_id
            fork_args = (
                driver(profile.driver).fork(session_files(ctx, source), conversation, Path(new_wt.path))
                if conversation
                else None
            )
            try:
                row = self._start(profile, project, new_wt, name, source.role, None, fork_args=fork_args)
            except OrchtuiError:
                self._remove_new(new_wt)
                raise
        copied = fork_args is not None
        how = " with a copy of its conversation" if copied else "; a new conversation (see its first prompt)"
        row = ctx.records.update_session(row.id, status_detail=f"forked from {session_id}{how}")
        if not copied:
            ctx.ledger.enqueue(
                row.id, fork_summary(ctx, source, wt), actor=operator(), cause=f"fork of {session_id}"
            )
        emit(
            ctx,
            "session.forked",
            f"forked from {session_id}",
            session_id=row.id,
            source=session_id,
            copied=copied,
        )
        ctx.wake_engine(f"fork {row.id}", host=ctx.config.host)
        return row, copied

    def _usable_worktree(self, row: AgentSession) -> Worktree | None:
        """The session's worktree while an agent can work in it again (KEPT: the session
        was killed with --keep-worktree)."""
        wt = self.ctx.records.worktree(row.worktree_id) if row.worktree_id else None
        usable = wt is not None and wt.state in (WorktreeState.ACTIVE, WorktreeState.KEPT)
        return wt if wt is not None and usable and Path(wt.path).is_dir() else None

    def _free_task(self, repo: GitRepo, wanted: str) -> str:
        """`wanted`, or `wanted-2`, `-3` … : the first whose branch does not exist yet."""
        prefix = self.ctx.config.worktrees.branch_prefix
        name, n = wanted, 1
        while repo.branch_exists(f"{prefix}{name}"):
            n += 1
            name = f"{wanted}-{n}"
        return name

    # archive --------------------------------------------------------------
    def archive(self, session_ids: list[str], ended: bool = False, undo: bool = False) -> list[str]:
        """Put ended sessions away: hidden from the dashboard and `session list` until asked
        for, nothing deleted (their branches, worktrees and ledgers stay). `ended`: every
        ended session; `undo`: bring them back. A live session is refused. The ids changed."""
        records = self.ctx.records
        rows = [records.session(sid) for sid in session_ids]
        live = [r.id for r in rows if SessionStatus(r.status).live]
        if live:
            raise UsageError(
                f"{', '.join(live)}: still running; kill it first (k, or `orchtui session kill`)"
            )
        if ended:
            rows += [r for r in records.sessions() if not SessionStatus(r.status).live]
        changed = [r.id for r in rows if (r.archived_at is None) != undo]
        for sid in dict.fromkeys(changed):
            records.update_session(sid, archived_at=None if undo else now())
        return list(dict.fromkeys(changed))

    # restart --------------------------------------------------------------
    def restart(self, session_id: str, env: dict[str, str] | None = None) -> AgentSession:
        """Start an ended session's agent again in its worktree, resuming its exact
        conversation when its driver can (`env`: added to its environment). Prompts already
        delivered are not sent again (they live in the conversation); the old output log
        is kept beside the new one."""
        ctx = self.ctx
        row = ctx.records.session(session_id)
        if SessionStatus(row.status).live:
            raise Refused(f"session {session_id} is {row.status}; only an ended session can be restarted")
        if (host := host_actions.owner(ctx, row)) is not None and host_actions.reachable(ctx, host):
            return ctx.records.session(
                str(host_actions.ask(ctx, host, "restart", session_id, {}, operator())["id"])
            )
        wt = self._usable_worktree(row)
        if wt is None:
            raise Refused(f"session {session_id}: its worktree is gone; start a new session instead")
        profile = ctx.profiles.get(row.agent)
        agent_driver = driver(profile.driver)
        resume = row.conversation_id if agent_driver.can_resume() else None
        lost_conversation = resume is not None and not agent_driver.saved(session_files(ctx, row), resume)
        if lost_conversation:
            resume = None  # the agent kept nothing to resume: a new conversation, said so below
        state = ctx.config.state
        with ctx.store.creation_lock(state.run / "create.lock"):
            project = ctx.records.project(row.project_id)
            assert project.id is not None
            self._check_capacity(project.id, profile, row.role)
            for pane in ctx.tmux.panes().values():  # its old window, if tmux kept the dead pane
                if pane.orchtui_session == row.id:
                    ctx.tmux.kill_window(pane.window_id)
            pane_logs.set_aside(state, row.id, int(now()))
            if wt.state == WorktreeState.KEPT:
                ctx.records.update_worktree(wt.id or 0, state=WorktreeState.ACTIVE)
            row = ctx.records.update_session(
                row.id,
                status=SessionStatus.STARTING,
                status_detail=f"restarting{f' (resuming {resume})' if resume else ''}",
                status_at=now(),
                ended_at=None,
                exit_code=None,
                log_offset=0,
                tmux_window=None,
                tmux_pane=None,
                taken_over=False,
                archived_at=None,  # back in sight
            )
            row = self._launch(profile, row, Path(wt.path), project.tmux_session, resume, env)
        emit(
            ctx,
            "session.restarted",
            f"{profile.name} restarted"
            + (
                f", resuming conversation {resume}"
                if resume
                else f", new conversation ({profile.name} kept no saved conversation {row.conversation_id})"
                if lost_conversation
                else ", new conversation"
            ),
            session_id=row.id,
            resume=resume,
        )
        ctx.wake_engine(f"restart {row.id}", host=ctx.config.host)
        return row

    def stop_run(self, run_id: str, cause: str) -> list[str]:
        """Stop every live agent of a run; returns their session ids."""
        stopped = []
        for session in self.ctx.records.sessions(live_only=True):
            if session.run_id == run_id:
                self.stop(session.id, cause)
                stopped.append(session.id)
        return stopped

    def stop(self, session_id: str, cause: str) -> tuple[bool, list[int]]:
        """End the agent (its window goes) and close its open ledger rows. The worktree
        and branch are not touched. Returns (window killed, cancelled row ids)."""
        ctx = self.ctx
        row = ctx.records.session(session_id)
        window_killed = False
        if SessionStatus(row.status).live:
            # Recorded before the window goes: the agent's end that follows (reported by its
            # launcher) is then the consequence of the kill, never an "exited" of its own.
            ctx.records.update_session(
                session_id, status=SessionStatus.KILLED, status_detail=cause, ended_at=now()
            )
        here = host_actions.owner(ctx, row) is None
        if row.tmux_window and SessionStatus(row.status) is not SessionStatus.LOST and here:
            ctx.tmux.kill_window(row.tmux_window)
            window_killed = True
        cancelled = []
        for cmd in ctx.ledger.open_rows(session_id):
            if cmd.kind == CommandKind.TAKEOVER:
                ctx.ledger.transition(cmd.id or 0, CommandState.DONE, cause)
                continue
            ctx.ledger.transition(cmd.id or 0, CommandState.CANCELLED, cause)
            cancelled.append(cmd.id or 0)
        return window_killed, cancelled

    # queue ----------------------------------------------------------------
    def queue(
        self,
        session_id: str,
        text: str,
        kind: CommandKind = CommandKind.PROMPT,
        cause: str = "queued by operator",
        urgent: bool = False,
        actor: str | None = None,
    ) -> Command:
        """Put a prompt (or a permission answer) on the session's queue and wake the engine.
        An urgent prompt goes out at once even while the agent works; others wait for idle."""
        row = self.ctx.records.session(session_id)
        if not SessionStatus(row.status).live:
            raise UsageError(f"session {session_id} is {row.status}; it cannot take prompts")
        if not paste_safe(text)[0].strip():
            raise UsageError("the prompt is empty (or only terminal control characters)")
        cmd = self.ctx.ledger.enqueue(
            session_id, text, kind=kind, actor=actor or operator(), cause=cause, urgent=urgent
        )
        self.ctx.wake_engine(f"queue {session_id}", host=row.host)
        return cmd

    def answer(
        self, session_id: str, approve: bool, who: str | None = None, reason: str | None = None
    ) -> Command:
        """Answer the agent's permission prompt with its profile's key (queued, delivered
        at once); who answered and why is the ledger row's cause."""
        row = self.ctx.records.session(session_id)
        if row.status != SessionStatus.WAITING:
            raise UsageError(f"session {session_id} is {row.status}, not waiting at a permission prompt")
        answers = self.ctx.profiles.get(row.agent).answers
        decision = "approve" if approve else "reject"
        cause = f"{who or 'operator'} chose {decision}" + (f": {reason}" if reason else "")
        return self.queue(
            session_id,
            answers.approve if approve else answers.reject,
            kind=CommandKind.ANSWER,
            cause=cause,
            actor=who,
        )

    # takeover -------------------------------------------------------------
    def attach(self, session_id: str) -> int:
        """Attach this terminal to the session's window; the ledger records start and end.
        Orchestration of the session pauses while the operator has it."""
        ctx = self.ctx
        row = ctx.records.session(session_id)
        if not SessionStatus(row.status).live or not row.tmux_window:
            raise UsageError(f"session {session_id} is {row.status}; nothing to attach to")
        who = operator()
        host = host_actions.owner(ctx, row)  # another host's: through ssh to its tmux server
        argv = (
            fleet.attach_argv(ctx, host, row.tmux_window) if host else ctx.tmux.attach_argv(row.tmux_window)
        )
        ctx.records.update_session(session_id, taken_over=True)
        cmd = ctx.ledger.record(
            session_id,
            CommandKind.TAKEOVER,
            f"takeover by {who}",
            CommandState.RUNNING,
            actor=who,
            cause="operator attached; input is the operator's",
        )
        emit(ctx, "takeover.start", f"{who} took over", session_id=session_id)
        env = {k: v for k, v in os.environ.items() if k != "TMUX"}
        try:
            code = subprocess.run(argv, env=env, check=False).returncode
        finally:
            ctx.ledger.transition(cmd.id or 0, CommandState.DONE, "operator detached; session handed back")
            ctx.records.update_session(session_id, taken_over=False)
            emit(ctx, "takeover.end", f"{who} handed back", session_id=session_id)
            ctx.wake_engine(f"handback {session_id}", host=ctx.config.host)
        return code


def ready(profile: AgentProfile, env: dict[str, str] | None) -> AgentProfile:
    """The profile, when its agent can start with this environment (plus `env`)."""
    if (why := profile.missing({**os.environ, **(env or {})})) is not None:
        raise Refused(f"agent {profile.name}: {why}")
    return profile


def helper_command(state: StatePaths, name: str, verb: str) -> Path:
    """A small executable an agent runs to record something for its run (`orchtui <verb>
    add`, with this interpreter): ORCHTUI_HOME/bin/orchtui-<name>, written once, the
    operator's only."""
    path = state.home / "bin" / f"orchtui-{name}"
    script = f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m orchtui {verb} add "$@"\n'
    if not path.exists() or path.read_text() != script:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.write_text(script)
        path.chmod(0o700)
    return path
