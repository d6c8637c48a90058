"""A playbook's merge stage: land the run's branch on its base; on a conflict, run the
resolution loop (the stage's first role names the resolver agents) and wait for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from orchtui.domain import MergeState, RunState
from orchtui.engine.merging import MergeService
from orchtui.playbook import Playbook, Stage
from orchtui.runtime import git_merge
from orchtui.runtime.git import GitRepo
from orchtui.store.db import now
from orchtui.store.tables import Artifact, Merge, Run

if TYPE_CHECKING:
    from orchtui.engine.runs import RunDriver


def resolver_for(driver: RunDriver, stage: Stage) -> str | None:
    """The first installed agent of the stage's first role, else the policy's choice."""
    for role in stage.roles[:1]:
        for name in role.agents:
            if driver.ctx.profiles.get(name).installed():
                return name
    return None


def start_merge_stage(driver: RunDriver, run: Run, book: Playbook, stage: Stage) -> None:
    wt = driver.run_worktree(run)
    repo = GitRepo(Path(driver.ctx.records.project(run.project_id).path))
    if wt is None or wt.id is None or not git_merge.unmerged_commits(repo, wt.branch, wt.base):
        # e.g. a repository of a multi-repository run whose stages made no commit here
        driver.event(run, "run.merged", f"{stage.id}: nothing to merge in {repo.root.name}")
        driver.begin_gates(driver.set(run, RunState.GATING), book, stage)
        return
    row = MergeService(driver.ctx).start(
        wt.id, run_id=run.id, resolver=resolver_for(driver, stage), actor=f"run:{run.id}"
    )
    if row.state == MergeState.MERGED.value:
        _merged(driver, run, book, stage, row)
        return
    files = ", ".join(json.loads(row.conflicts))
    driver.set(run, RunState.RUNNING, f"{stage.id}: resolving conflicts in {files} (merge {row.id})")


def check_merge_stage(driver: RunDriver, run: Run, book: Playbook, stage: Stage) -> None:
    rows = driver.ctx.merges.rows(run_id=run.id)
    if not rows:
        return
    row = rows[-1]
    if row.state == MergeState.MERGED.value:
        _merged(driver, run, book, stage, row)
    elif row.state == MergeState.ABORTED.value:
        driver.pause(run, f"{stage.id}: merge {row.id} aborted; `orchtui resume {run.id}` merges again")


def _merged(driver: RunDriver, run: Run, book: Playbook, stage: Stage, row: Merge) -> None:
    commit = row.commit or ""
    driver.ctx.runs.add_artifact(
        Artifact(
            run_id=run.id,
            stage=stage.id,
            name="merge",
            content=json.dumps({"into": row.target, "commit": commit, "merge": row.id}),
            at=now(),
        )
    )
    driver.event(run, "run.merged", f"{row.source} merged into {row.target} as {commit[:10]}", commit=commit)
    driver.begin_gates(driver.set(run, RunState.GATING), book, stage)
