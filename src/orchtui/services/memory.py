"""Project memory: what each stage of a run recorded, as Markdown under
ORCHTUI_HOME/memory/<project>/<run>/, indexed as artifacts (later prompts quote it)."""

from __future__ import annotations

from pathlib import Path

from orchtui.playbook import Stage
from orchtui.redact import redact
from orchtui.services import journal
from orchtui.services.context import Context
from orchtui.store.db import now
from orchtui.store.tables import Artifact, Run, Worktree


def remember(ctx: Context, run: Run, stage: Stage, summary: str, wt: Worktree | None) -> None:
    """Project memory: the stage's summary, and the plan or review it produced, as
    Markdown under ORCHTUI_HOME/memory/<project>/<run>/, indexed as artifacts."""
    project = ctx.records.project(run.project_id)
    folder = ctx.config.home / "memory" / project.tmux_session.removeprefix("orchtui-") / run.id
    folder.mkdir(parents=True, exist_ok=True)
    known = ctx.runs.artifacts(run.id)
    for name in ("PLAN.md", "REVIEW.md"):
        source = Path(wt.path) / name if wt else None
        if source is not None and source.is_file() and f"memory:{name}" not in known:
            text = redact(source.read_text(encoding="utf-8", errors="replace"))
            (folder / name).write_text(text, encoding="utf-8")
            if name == "REVIEW.md":  # review findings outlive the run
                journal.add(ctx, project, "finding", f"{run.task}: {text[:2000]}", f"run:{run.id}", run.id)
            ctx.runs.add_artifact(
                Artifact(
                    run_id=run.id,
                    stage=stage.id,
                    name=f"memory:{name}",
                    path=str(folder / name),
                    content=text,
                    at=now(),
                )
            )
    body = redact(
        f"# {stage.id} · run {run.id} · {run.task}\n\nattempts: {run.attempt}\n\n"
        f"## Gates\n\n{summary or '(none)'}\n"
    )
    (folder / f"{stage.id}.md").write_text(body, encoding="utf-8")
    ctx.runs.add_artifact(
        Artifact(
            run_id=run.id,
            stage=stage.id,
            name=f"memory:{stage.id}",
            path=str(folder / f"{stage.id}.md"),
            content=body,
            at=now(),
        )
    )


def summarize(ctx: Context, run: Run, outcome: str) -> None:
    """A run's final summary in the project's journal: how it ended, each stage's attempts
    and gates, its branch."""
    stages: dict[str, list[str]] = {}
    for g in ctx.runs.gate_results(run.id):
        stages.setdefault(g.stage, []).append(f"attempt {g.attempt} {g.type} {g.state}")
    lines = [f"run {run.id} ({run.playbook}) for {run.task}: {outcome}"]
    for stage, gates in stages.items():
        lines.append(f"- {stage}: {'; '.join(gates[-6:])}")
    if run.worktree_id is not None:
        lines.append(f"branch: {ctx.records.worktree(run.worktree_id).branch}")
    journal.add(
        ctx, ctx.records.project(run.project_id), "summary", "\n".join(lines), f"run:{run.id}", run.id
    )
