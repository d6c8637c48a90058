"""Starting a playbook run: validated first, then one run per repository of the project.

A run spans the repository it is started in and any `--repos` given (the seeds'
multi-repository projects). Each repository gets its own run (worktree, branch, gates,
approvals, merge), advanced by the engine on its own; the runs share a group artifact
naming every repository, and a stage with `repos: [names]` runs only in those.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

from orchtui.domain import RunState
from orchtui.errors import UsageError
from orchtui.names import validate_task
from orchtui.playbook import Playbook, SkillCall, load_playbook
from orchtui.runtime.git import GitRepo
from orchtui.services.context import Context, project_slug
from orchtui.services.run_env import hand_over, record_names
from orchtui.skills import catalog_for, effective_trust
from orchtui.store.tables import Run
from orchtui.store.vetting import Vettings
from orchtui.trust import refuse_unless_trusted


def check_skills(ctx: Context, book: Playbook, path: Path, repo_root: Path) -> list[str]:
    """Every referenced skill (roles and steps) exists, a fully_auto stage uses only vetted
    ones, a step's skill can run (a script, or an agent named); these block. Experimental
    skills elsewhere are warnings, returned."""
    catalog = catalog_for(repo_root)
    vetted = Vettings(ctx.store).vetted_digests()
    warnings: list[str] = []
    for i, stage in enumerate(book.stages):
        uses: list[tuple[str, str, SkillCall | None]] = [
            (f"roles.{j}.skill", role.skill, None) for j, role in enumerate(stage.roles) if role.skill
        ]
        uses += [
            (f"steps.{k}.skills.{c}.skill", call.skill, call)
            for k, step in enumerate(stage.steps)
            for c, call in enumerate(step.skills)
        ]
        for field, name, call in uses:
            where = f"{path}: stages.{i}.{field}"
            skill = catalog.get(name)
            if skill is None:
                raise UsageError(f"{where}: no skill {name!r} (orchtui skills list)")
            trust = effective_trust(skill, vetted)
            if stage.automation == "fully_auto" and trust != "vetted":
                raise UsageError(
                    f"{where}: {name!r} is {trust}; a fully_auto stage runs only vetted skills "
                    f"(vet it with `orchtui skills vet {name}`, or lower the stage's automation)"
                )
            if call is not None and call.agent is None and skill.meta.script is None:
                raise UsageError(f"{where}: {name!r} has no script; name an `agent` to run its instructions")
            if trust == "experimental":
                warnings.append(f"{where}: {name!r} is experimental")
    return warnings


def repositories(start: Path, extra: list[Path]) -> list[GitRepo]:
    """The repository at `start`, then each of `extra` (each once); names must differ."""
    repos: list[GitRepo] = []
    for where in [start, *extra]:
        repo = GitRepo(where)
        repo.resolve_base(None)  # has commits
        if all(r.root != repo.root for r in repos):
            repos.append(repo)
    names = [r.root.name for r in repos]
    for name in names:
        if names.count(name) > 1:
            raise UsageError(
                f"--repos: two repositories are named {name!r}; a stage's `repos` could not tell them apart"
            )
    return repos


def start_runs(
    ctx: Context, playbook: Path, task: str, cwd: Path, extra: list[Path]
) -> tuple[list[Run], list[str]]:
    """The new runs, and the playbook's warnings."""
    validate_task(task)
    book = load_playbook(playbook, {p.name for p in ctx.profiles.all()})
    if any(g.type == "command" for stage in book.stages for g in stage.gates):  # a repository's own
        refuse_unless_trusted(playbook, "a playbook with command gates")
    repos = repositories(cwd, extra)
    warnings = check_skills(ctx, book, playbook, repos[0].root)
    names = {r.root.name for r in repos}
    for index, stage in enumerate(book.stages):
        unknown = sorted(set(stage.repos or []) - names)
        if unknown:
            raise UsageError(
                f"{playbook}: stages.{index}.repos: no repository named {', '.join(map(repr, unknown))} "
                f"in this run ({', '.join(sorted(names))})"
            )
    branch = f"{ctx.config.worktrees.branch_prefix}{task}"
    for repo in repos:
        if repo.branch_exists(branch):
            raise UsageError(f"branch {branch!r} already exists in {repo.root}; choose another task name")
    runs: list[Run] = []
    at = time.time()
    for repo in repos:
        project = ctx.records.project_for(
            str(repo.root), repo.root.name, f"orchtui-{project_slug(repo.root)}"
        )
        assert project.id is not None
        run_id = secrets.token_hex(3)
        passed = hand_over(ctx, run_id)  # the agents' API keys as this shell has them
        runs.append(
            ctx.runs.add(
                Run(
                    id=run_id,
                    project_id=project.id,
                    playbook=book.name,
                    playbook_path=str(playbook.resolve()),
                    task=task,
                    state=RunState.PENDING,
                    created_at=at,
                    updated_at=at,
                    host=ctx.config.host,  # advanced by this host's worker (its keys are handed over here)
                )
            )
        )
        record_names(ctx, run_id, passed)
    if len(runs) > 1:
        group = json.dumps({"runs": [r.id for r in runs], "repos": {r.root.name: str(r.root) for r in repos}})
        for run in runs:
            ctx.runs.update(run.id, group_runs=group)
    for run in runs:
        ctx.wake_engine(f"run {run.id}")
    return runs, warnings
