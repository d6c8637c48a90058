"""Skills as playbook steps: each step runs its skills in parallel, each with a timeout and
retries; every run yields a result (success, message, error, duration, files modified)
and an event (skill.completed / skill.failed / skill.timed_out); the step passes per its
policy (all or any).

A skill runs either as its script, in the worktree, with a limited environment (no
inherited secrets) and its context values as data (ORCHTUI_PARAM_<KEY> variables and
JSON on stdin), or in an agent session of the run, its instructions and context values
(a JSON block) as the prompt. Steps run in the gates' worker thread; a step interrupted by
an engine restart runs again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from orchtui.domain import CommandState
from orchtui.errors import OrchtuiError
from orchtui.playbook import SkillCall, Step
from orchtui.runtime.git_changes import git
from orchtui.services.context import Context
from orchtui.services.events import emit
from orchtui.services.gates import GateOutcome
from orchtui.services.sessions import SessionService
from orchtui.skills import Catalog, Skill
from orchtui.store.db import now
from orchtui.store.tables import Artifact, Run
from orchtui.trust import refuse_unless_trusted

SCRIPT_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TERM", "TMPDIR", "USER")
OUTPUT_LIMIT = 16 * 1024
STEP_INDEX = 1000  # gate results of steps are numbered from here (gates from 0)


@dataclass
class SkillResult:
    skill: str
    success: bool
    message: str
    error: str | None
    duration: float
    files_modified: list[str] = field(default_factory=list)
    timed_out: bool = False
    attempts: int = 1

    @property
    def kind(self) -> str:
        return "skill.completed" if self.success else "skill.timed_out" if self.timed_out else "skill.failed"


def timed_out(skill: Skill, call: SkillCall, started: float) -> SkillResult:
    return SkillResult(
        skill.name,
        False,
        "",
        f"timed out after {call.timeout:g}s",
        time.monotonic() - started,
        timed_out=True,
    )


def _snapshot(worktree: Path) -> tuple[str, dict[str, str]]:
    head = git(worktree, "rev-parse", "HEAD").strip()
    status = {}
    for line in git(worktree, "status", "--porcelain", "--untracked-files=all").splitlines():
        status[line[3:]] = line[:2]
    return head, status


def _modified(worktree: Path, before: tuple[str, dict[str, str]]) -> list[str]:
    head, status = before
    after_head, after = _snapshot(worktree)
    changed = (
        set(git(worktree, "diff", "--name-only", head, after_head).split()) if after_head != head else set()
    )
    changed |= {path for path, code in after.items() if status.get(path) != code}
    changed |= {path for path in status if path not in after}
    return sorted(changed)


def run_script(skill: Skill, call: SkillCall, worktree: Path) -> SkillResult:
    """The skill's script in the worktree: a limited environment, the context values as
    data, killed with its process group at the timeout."""
    assert skill.meta.script is not None
    env = {k: v for k, v in os.environ.items() if k in SCRIPT_ENV}
    env.update({f"ORCHTUI_PARAM_{k.upper()}": str(v) for k, v in call.params.items()})
    env.update({"ORCHTUI_SKILL_DIR": str(skill.folder), "ORCHTUI_WORKTREE": str(worktree)})
    script = (skill.folder / skill.meta.script).resolve()
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(script)],
        cwd=worktree,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(json.dumps(call.params), timeout=call.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return timed_out(skill, call, started)
    last = next((ln.strip() for ln in reversed(out.splitlines()) if ln.strip()), "")
    error = (
        None if proc.returncode == 0 else f"exit {proc.returncode}: " + (err.strip()[-OUTPUT_LIMIT:] or last)
    )
    return SkillResult(skill.name, proc.returncode == 0, last[:500], error, time.monotonic() - started)


def agent_prompt(skill: Skill, call: SkillCall) -> str:
    values = json.dumps(call.params, indent=2, sort_keys=True)
    return f"{skill.body}\n\nContext values (data, JSON):\n```json\n{values}\n```"


def run_in_agent(
    ctx: Context, run: Run, skill: Skill, call: SkillCall, worktree_id: int, label: str
) -> SkillResult:
    """The skill's instructions as a prompt to a session of `call.agent` in the run's
    worktree; done when the agent finishes that turn, failed when it errs or the timeout
    passes (the prompt is then cancelled and the session stopped)."""
    assert call.agent is not None
    started = time.monotonic()
    session = SessionService(ctx).join(
        worktree_id, call.agent, label, role=f"skill-{skill.name}"[:32], run_id=run.id
    )
    cmd = ctx.ledger.enqueue(
        session.id, agent_prompt(skill, call), actor=f"skill:{run.id}:{label}", cause="skill"
    )
    ctx.wake_engine(f"skill {label}")
    while time.monotonic() - started < call.timeout:
        row = ctx.ledger.get(cmd.id or 0)
        if CommandState(row.state).final:
            SessionService(ctx).stop(session.id, f"skill {skill.name} finished")
            ok = row.state == CommandState.DONE
            return SkillResult(
                skill.name,
                ok,
                f"agent turn {row.state}",
                None if ok else row.error or row.state,
                time.monotonic() - started,
            )
        time.sleep(0.2)
    ctx.ledger.transition(cmd.id or 0, CommandState.CANCELLED, f"skill timed out after {call.timeout:g}s")
    SessionService(ctx).stop(session.id, f"skill {skill.name} timed out")
    return timed_out(skill, call, started)


def run_call(
    ctx: Context,
    run: Run,
    stage: str,
    step: Step,
    call: SkillCall,
    catalog: Catalog,
    worktree: Path,
    worktree_id: int | None,
) -> SkillResult:
    skill = catalog.get(call.skill)
    if skill is None:
        return SkillResult(call.skill, False, "", f"no skill {call.skill!r}", 0.0)
    if worktree_id is None:  # never in the repository's own checkout
        why = "a skill runs only in the run's worktree, and this stage has none yet (give it a role)"
        refused = SkillResult(skill.name, False, "", why, 0.0)
        where = f"run {run.id}: {stage}/{step.id} {skill.name}"
        emit(ctx, refused.kind, f"{where}: {why}", severity="warning", run=run.id, stage=stage, step=step.id)
        return refused
    result = SkillResult(call.skill, False, "", "not run", 0.0)
    for attempt in range(1, call.retries + 2):
        before = _snapshot(worktree)
        try:
            if call.agent is not None and worktree_id is not None:
                label = f"{run.task[:24]}-{step.id[:12]}-{skill.name[:16]}-{attempt}"
                result = run_in_agent(ctx, run, skill, call, worktree_id, label)
            elif skill.meta.script is not None:
                if skill.source == "project":  # a repository's own script runs only once trusted
                    for part in (skill.path, (skill.folder / skill.meta.script).resolve()):
                        refuse_unless_trusted(part, f"skill {skill.name}'s script")
                result = run_script(skill, call, worktree)
            else:
                result = SkillResult(
                    skill.name, False, "", "the skill has no script; name an `agent` to run it", 0.0
                )
        except (OrchtuiError, OSError) as exc:
            result = SkillResult(skill.name, False, "", str(exc), 0.0)
        result.files_modified = _modified(worktree, before)
        if call.agent is None and result.files_modified and not skill.meta.writes:
            changed = ", ".join(result.files_modified[:5])
            result.success = False
            result.error = f"its script changed {changed}, but its SKILL.md does not declare `writes: true`"
        result.attempts = attempt
        emit(
            ctx,
            result.kind,
            f"run {run.id}: {stage}/{step.id} {skill.name} "
            + ("completed" if result.success else result.error or "failed")
            + f" in {result.duration:.1f}s (attempt {attempt})",
            severity="info" if result.success else "warning",
            run=run.id,
            stage=stage,
            step=step.id,
            skill=skill.name,
            attempt=attempt,
            duration=round(result.duration, 3),
            files=result.files_modified,
        )
        if result.success:
            break
    return result


def run_step(
    ctx: Context, run: Run, stage: str, step: Step, catalog: Catalog, worktree: Path, worktree_id: int | None
) -> GateOutcome:
    """The step's skills in parallel; its outcome per its policy, with every result kept."""
    with ThreadPoolExecutor(max_workers=len(step.skills), thread_name_prefix=f"step-{step.id}") as pool:
        futures = [
            pool.submit(run_call, ctx, run, stage, step, call, catalog, worktree, worktree_id)
            for call in step.skills
        ]
        results = [f.result() for f in futures]
    passed = [r for r in results if r.success]
    ok = len(passed) == len(results) if step.policy == "all" else bool(passed)
    evidence = json.dumps([asdict(r) for r in results], indent=2)
    ctx.runs.add_artifact(
        Artifact(
            run_id=run.id,
            stage=stage,
            name=f"step:{stage}:{step.id}:{run.attempt}",
            content=evidence,
            at=now(),
        )
    )
    summary = ", ".join(
        f"{r.skill} {'ok' if r.success else 'timed out' if r.timed_out else 'failed'}" for r in results
    )
    return GateOutcome("pass" if ok else "fail", f"step {step.id} ({step.policy}): {summary}", evidence)
