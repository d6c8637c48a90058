"""`orchtui race`: a run's races side by side, and the operator's pick."""

from __future__ import annotations

import click

from orchtui.cli.app import App, json_option, pass_app
from orchtui.cli.output import emit_json, one_line, table
from orchtui.services import races
from orchtui.services.sessions import operator


@click.group("race")
def race() -> None:
    """Races of a run's stages (playbook `race:`): compare the entries, pick one."""


@race.command("show")
@click.argument("run_id")
@json_option
@pass_app
def race_show(app: App, run_id: str, as_json: bool) -> None:
    """Each entry of RUN_ID's races: agent, state, gates, diff stat, cost, time, score."""
    views = races.races(app.ctx, run_id)
    if as_json:
        emit_json([v.as_dict() for v in views])
        return
    if not views:
        click.echo(f"run {run_id} has no race")
        return
    for view in views:
        state = "decided" if view.decided else "pick an entry" if view.awaiting_pick else "under way"
        click.echo(f"{view.stage}, attempt {view.attempt}: {view.count} entries, pick {view.pick} · {state}")
        table(
            [
                [
                    str(e.number) + (" *" if e.result == "won" else ""),
                    e.agent,
                    e.state,
                    f"{sum(g.state == 'pass' for g in e.gates)}/{len(e.gates)}",
                    f"{e.files} files +{e.added} -{e.deleted}",
                    f"${e.cost_usd:.4f}",
                    f"{e.seconds:.0f}s",
                    "-" if e.score is None else f"{e.score:g}",
                    one_line("; ".join(f"{g.type}: {g.why}" for g in e.gates if g.state != "pass"), 40)
                    or "-",
                ]
                for e in view.entries
            ],
            ["entry", "agent", "state", "gates", "diff", "cost", "time", "score", "failed"],
        )


@race.command("pick")
@click.argument("run_id")
@click.argument("number", type=int)
@pass_app
def race_pick(app: App, run_id: str, number: int) -> None:
    """Pick entry NUMBER as the winner of RUN_ID's race (`pick: operator`); recorded with
    your OS user. Its branch is merged into the run's, and the run moves on."""
    entry = races.pick(app.ctx, run_id, number, operator())
    click.echo(f"picked entry {entry.number} ({entry.agent}) of the race of {entry.stage} in run {run_id}")
