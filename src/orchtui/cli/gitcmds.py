"""Git delivery verbs: `commit`, `diff`, `merge …` and `worktree …`."""

from __future__ import annotations

import json
import sys

import click

from orchtui.cli.app import App, json_option, pass_app
from orchtui.cli.output import emit_json, table
from orchtui.services.as_json import merge_json
from orchtui.services.cleanup import Cleanup, CleanupReport
from orchtui.services.commits import CommitService
from orchtui.services.merging import MergeService
from orchtui.services.worktree_diff import WorktreeDiff


@click.command("commit")
@click.argument("session_id")
@click.option(
    "--message", "-m", "summary", required=True, help="Summary line (the policy's template wraps it)."
)
@click.option("--type", "kind", default=None, help="Conventional Commit type (default: git.commit_type).")
@click.option("--stage", default=None, help="Stage name for the Orchtui-Stage trailer.")
@click.option(
    "--amend-agent-commits", is_flag=True, default=None, help="Reword the agent's non-compliant commits."
)
@json_option
@pass_app
def commit(
    app: App,
    session_id: str,
    summary: str,
    kind: str | None,
    stage: str | None,
    amend_agent_commits: bool | None,
    as_json: bool,
) -> None:
    """Commit everything in a session's worktree with a policy-compliant message."""
    service = CommitService(app.ctx)
    if amend_agent_commits:
        service.check_agent_commits(session_id, amend=True)
    result = service.commit(session_id, summary, kind=kind, stage=stage)
    if as_json:
        emit_json(result.as_dict())
        return
    click.echo(f"{result.sha[:10]} {result.subject} ({result.summary})")
    for f in result.files:
        click.echo(f"  {f.path}  +{f.added} -{f.deleted}")
    for problem in result.agent_violations:
        click.echo(f"  policy: agent commit {problem}", err=True)


@click.command("diff")
@click.argument("session_id")
@click.option("--stat", is_flag=True, help="Only the files with +/- counts.")
@json_option
@pass_app
def diff(app: App, session_id: str, stat: bool, as_json: bool) -> None:
    """A session's changes against its base (committed, uncommitted and untracked)."""
    _, wt, path = CommitService(app.ctx).worktree_of(session_id)
    diff = WorktreeDiff(path, wt.base)
    files = diff.files()
    if as_json:
        emit_json({"base": wt.base, "branch": wt.branch, "files": [f.as_dict() for f in files]})
        return
    if stat:
        table([[f.path, str(f.added), str(f.deleted), f.status] for f in files], ["file", "+", "-", "status"])
        return
    for f in files:
        sys.stdout.write(diff.patch(f))


@click.group("merge")
def merge() -> None:
    """Merge a session's branch into its target under the repository's git policy."""


@merge.command("start")
@click.argument("session_id")
@click.option("--into", "target", default=None, help="Target branch (default: the session's base).")
@click.option("--strategy", type=click.Choice(["merge", "squash", "rebase"]), default=None)
@click.option("--resolver", default=None, help="Agent profile that resolves conflicts, or 'operator'.")
@json_option
@pass_app
def merge_start(
    app: App, session_id: str, target: str | None, strategy: str | None, resolver: str | None, as_json: bool
) -> None:
    """Land the branch; on a conflict, start the resolution loop (the target stays untouched)."""
    wt = Cleanup(app.ctx).worktree_for(session_id)
    if resolver not in (None, "operator"):
        app.start_engine()
    row = MergeService(app.ctx).start(
        wt.id or 0, target=target, strategy=strategy, resolver=resolver, session_id=session_id
    )
    if as_json:
        emit_json(merge_json(row))
        return
    if row.commit:
        click.echo(f"merged {row.source} into {row.target} ({row.strategy}) as {row.commit[:10]}")
        return
    where = app.ctx.records.worktree(row.resolver_worktree_id or 0).path
    click.echo(
        f"merge {row.id}: conflicts in {', '.join(json.loads(row.conflicts))}; {row.target} untouched\n"
        f"resolving in {where}"
        + (f" by session {row.resolver_session_id}" if row.resolver_session_id else " (by you)")
        + f"; then `orchtui merge continue {row.id}`, or `orchtui merge abort {row.id}`"
    )


@merge.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include finished merges.")
@json_option
@pass_app
def merge_list(app: App, show_all: bool, as_json: bool) -> None:
    rows = app.ctx.merges.rows(open_only=not show_all)
    if as_json:
        emit_json([merge_json(r) for r in rows])
        return
    rows_out = [
        [
            str(r.id),
            r.state,
            r.source,
            r.target,
            ", ".join(json.loads(r.conflicts)),
            r.resolver_session_id or "operator",
            r.detail or "",
        ]
        for r in rows
    ]
    table(rows_out, ["id", "state", "source", "target", "conflicts", "resolver", "detail"])


@merge.command("continue")
@click.argument("merge_id", type=int)
@json_option
@pass_app
def merge_continue(app: App, merge_id: int, as_json: bool) -> None:
    """Verify the resolution (no markers, checks pass) and land it."""
    row = MergeService(app.ctx).verify(merge_id)
    if as_json:
        emit_json(merge_json(row))
        return
    click.echo(f"merged {row.source} into {row.target} as {(row.commit or '')[:10]}")


@merge.command("abort")
@click.argument("merge_id", type=int)
@json_option
@pass_app
def merge_abort(app: App, merge_id: int, as_json: bool) -> None:
    """Stop the resolution; target and source stay exactly as they were."""
    row = MergeService(app.ctx).abort(merge_id)
    if as_json:
        emit_json(merge_json(row))
        return
    click.echo(f"merge {merge_id} aborted; {row.detail}")


@click.group("worktree")
def worktree() -> None:
    """List, archive or delete session worktrees."""


@worktree.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include removed worktrees.")
@json_option
@pass_app
def worktree_list(app: App, show_all: bool, as_json: bool) -> None:
    ctx = app.ctx
    cleanup = Cleanup(ctx)
    out: list[dict[str, object]] = []
    for session in ctx.records.sessions():
        if session.worktree_id is None:
            continue
        wt = ctx.records.worktree(session.worktree_id)
        if not show_all and wt.state in ("removed", "deleted"):
            continue
        if any(o["session"] == session.id or o["worktree"] == wt.path for o in out):
            continue
        loss = cleanup.loss(wt)
        out.append(
            {
                "session": session.id,
                "repository": ctx.records.project(wt.project_id).name,
                "worktree": wt.path,
                "branch": wt.branch,
                "base": wt.base,
                "state": wt.state,
                "uncommitted": len(loss.uncommitted),
                "unmerged": len(loss.unmerged),
            }
        )
    if as_json:
        emit_json(out)
        return
    keys = ["session", "repository", "branch", "base", "state", "uncommitted", "unmerged"]
    table([[str(o[k]) for k in keys] for o in out], keys)


def _confirmed(app: App, session_id: str, yes: bool, deleting: bool) -> bool:
    """--yes, or an interactive yes after being told what would be lost."""
    if yes:
        return True
    wt = Cleanup(app.ctx).worktree_for(session_id)
    loss = Cleanup(app.ctx).loss(wt)
    if loss.empty or not sys.stdin.isatty():
        return False
    verb = "Deleting" if deleting else "Archiving"
    return click.confirm(f"{verb} {wt.branch} would lose {loss.describe(wt.base)}. Go ahead?", default=False)


def _report(report: CleanupReport, as_json: bool) -> None:
    if as_json:
        emit_json(report.as_dict())
        return
    kept = f"; kept at {', '.join(report.rescue_refs)}" if report.rescue_refs else ""
    branch = f"branch {report.branch}" + (" kept" if report.state == "removed" else " deleted")
    click.echo(f"{report.state} {report.worktree} ({branch}){kept}")


@worktree.command("archive")
@click.argument("session_id")
@click.option("--yes", is_flag=True, help="Confirm losing what the refusal listed.")
@json_option
@pass_app
def worktree_archive(app: App, session_id: str, yes: bool, as_json: bool) -> None:
    """Remove the worktree, keep the branch (asks when its work is not on the target)."""
    _report(Cleanup(app.ctx).archive(session_id, _confirmed(app, session_id, yes, False)), as_json)


@worktree.command("delete")
@click.argument("session_id")
@click.option("--yes", is_flag=True, help="Confirm losing what the refusal listed.")
@json_option
@pass_app
def worktree_delete(app: App, session_id: str, yes: bool, as_json: bool) -> None:
    """Remove the worktree and its branch (asks when its work is not on the target)."""
    _report(Cleanup(app.ctx).delete(session_id, _confirmed(app, session_id, yes, True)), as_json)
