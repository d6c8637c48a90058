"""A playbook's merge stage: land the run's branch on its base; on a conflict, run the
resolution loop (the stage's first role names the resolver agents) and wait for it."""

from __future__ import annotations

import json
from pathlib import Path

from orchtui.domain import MergeState, RunState
from orchtui.engine.port import StageHost
from orchtui.playbook import Playbook, Stage
from orchtui.runtime import git_merge
from orchtui.runtime.git import GitRepo
from orchtui.services.merging import MergeService
from orchtui.store.db import now
from orchtui.store.tables import Artifact, Merge, Run


def resolver_for(host: StageHost, stage: Stage) -> str | None:
    """The first installed agent of the stage's first role, else the policy's choice."""
    for role in stage.roles[:1]:
        for name in role.agents:
            if host.ctx.profiles.get(name).installed():
                return name
    return None


def land(host: StageHost, run: Run, stage: Stage) -> Merge | None:
    """In a worker (git, the required checks): merge the run's branch into its base, or
    start the resolution loop on a conflict. None when the branch has nothing to merge
    (e.g. a repository of a multi-repository run whose stages made no commit here)."""
    wt = host.run_worktree(run)
    repo = GitRepo(Path(host.ctx.records.project(run.project_id).path))
    if wt is None or wt.id is None or not git_merge.unmerged_commits(repo, wt.branch, wt.base):
        return None
    return MergeService(host.ctx).start(
        wt.id, run_id=run.id, resolver=resolver_for(host, stage), actor=f"run:{run.id}"
    )


def landed(host: StageHost, run: Run, book: Playbook, stage: Stage, row: Merge | None) -> None:
    """On the loop, once `land` is done: the stage's gates, or the wait for the resolver."""
    if row is None:
        repo = Path(host.ctx.records.project(run.project_id).path).name
        host.event(run, "run.merged", f"{stage.id}: nothing to merge in {repo}")
        host.begin_gates(host.set(run, RunState.GATING), book, stage)
        return
    if row.state == MergeState.MERGED:
        _merged(host, run, book, stage, row)
        return
    files = ", ".join(json.loads(row.conflicts))
    host.set(run, RunState.RUNNING, f"{stage.id}: resolving conflicts in {files} (merge {row.id})")


def check_merge_stage(host: StageHost, run: Run, book: Playbook, stage: Stage) -> None:
    rows = host.ctx.merges.rows(run_id=run.id)
    if not rows:
        return
    row = rows[-1]
    if row.state == MergeState.MERGED:
        _merged(host, run, book, stage, row)
    elif row.state == MergeState.ABORTED:
        host.pause(run, f"{stage.id}: merge {row.id} aborted; `orchtui resume {run.id}` merges again")


def _merged(host: StageHost, run: Run, book: Playbook, stage: Stage, row: Merge) -> None:
    commit = row.commit or ""
    host.ctx.runs.add_artifact(
        Artifact(
            run_id=run.id,
            stage=stage.id,
            name="merge",
            content=json.dumps({"into": row.target, "commit": commit, "merge": row.id}),
            at=now(),
        )
    )
    host.event(run, "run.merged", f"{row.source} merged into {row.target} as {commit[:10]}", commit=commit)
    host.begin_gates(host.set(run, RunState.GATING), book, stage)
