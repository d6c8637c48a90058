"""`orchtui report`: what the crew cost, where the time went, which stage held things up."""

from __future__ import annotations

from typing import Any

import click

from orchtui.cli.app import App, json_option, pass_app
from orchtui.cli.output import emit_json, table
from orchtui.services.budget import day_start
from orchtui.services.report import Spend, build_report


def _money(value: float) -> str:
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def _tokens(s: Spend | dict[str, Any]) -> str:
    d = s if isinstance(s, dict) else s.__dict__
    return f"{d['input_tokens']:,}/{d['output_tokens']:,}/{d['cache_read']:,}/{d['cache_write']:,}"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
        if seconds >= 3600
        else f"{seconds // 60}m{seconds % 60:02d}s"
    )


@click.command()
@click.option("--today", is_flag=True, help="Only what happened since midnight (local time).")
@json_option
@pass_app
def report(app: App, today: bool, as_json: bool) -> None:
    """Cost, time and utilisation: per session, stage, role, run and day, and each
    run's bottleneck stage. Tokens are input/output/cache read/cache write."""
    app.keep_engine()
    rep = build_report(app.ctx, since=day_start() if today else None)
    if as_json:
        emit_json(rep.as_json())
        return
    click.echo(
        f"total {_money(rep.total.cost)} in {rep.total.calls} model calls; tokens {_tokens(rep.total)}"
    )
    if rep.unpriced:
        click.echo(f"no price for: {', '.join(rep.unpriced)} (add them under [pricing] in your config)")
    click.echo()
    table(
        [
            [
                sid,
                s["agent"],
                s["role"] or "-",
                s["status"],
                _tokens(s),
                _money(s["cost"]),
                _duration(s["busy_s"]),
                _duration(s["waiting_s"]),
                _duration(s["idle_s"]),
                f"{s['utilisation']:.0%}",
            ]
            for sid, s in rep.sessions.items()
        ],
        ["session", "agent", "role", "status", "tokens", "cost", "busy", "waiting", "idle", "util"],
    )
    data = rep.as_json()
    click.echo()
    table(
        [
            [
                role,
                _money(r["cost"]),
                _duration(r["busy_s"]),
                _duration(r["waiting_s"]),
                f"{r['utilisation']:.0%}",
            ]
            for role, r in data["roles"].items()
        ],
        ["role", "cost", "busy", "waiting", "util"],
    )
    if rep.runs:
        click.echo()
        table(
            [
                [
                    rid,
                    r["task"],
                    r["state"],
                    _money(r["cost"]),
                    r["bottleneck"] or "-",
                    _duration(r["stage_seconds"].get(r["bottleneck"], 0)) if r["bottleneck"] else "-",
                ]
                for rid, r in rep.runs.items()
            ],
            ["run", "task", "state", "cost", "bottleneck", "its time"],
        )
    entries = [(rid, e) for rid, r in rep.runs.items() for e in r["races"]]
    if entries:
        click.echo()
        table(
            [
                [
                    rid,
                    f"{e['stage']} #{e['attempt']}",
                    str(e["entry"]),
                    e["agent"],
                    e["result"] or e["state"],
                    "-" if e["score"] is None else f"{e['score']:g}",
                    _money(e["cost"]),
                    _duration(e["seconds"]),
                ]
                for rid, e in entries
            ],
            ["run", "race", "entry", "agent", "result", "score", "cost", "time"],
        )
    click.echo()
    table(
        [[stage, _money(s.cost), _tokens(s)] for stage, s in rep.stages.items()], ["stage", "cost", "tokens"]
    )
    click.echo()
    table([[day, _money(s.cost), str(s.calls)] for day, s in rep.days.items()], ["day", "cost", "calls"])
