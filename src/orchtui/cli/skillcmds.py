"""`orchtui skills …`: the catalog (source, version, trust, where used), one skill, vetting."""

from __future__ import annotations

from pathlib import Path

import click

from orchtui.cli.app import App, json_option, pass_app
from orchtui.cli.output import emit_json, iso, table
from orchtui.errors import NotFound, OrchtuiError
from orchtui.services.repos import here
from orchtui.services.skill_catalog import uses, vet
from orchtui.skills import Catalog, Skill, catalog_for, effective_trust
from orchtui.store.vetting import Vettings


def repo_root() -> Path | None:
    try:
        return here()
    except OrchtuiError:
        return None


def skill_json(skill: Skill, trust: str, used: list[str], shadows: Skill | None = None) -> dict[str, object]:
    return {
        "shadows": f"{shadows.source} {shadows.path}" if shadows else None,
        "name": skill.name,
        "description": skill.meta.description,
        "version": skill.meta.version,
        "trust": trust,
        "declared_trust": skill.meta.trust,
        "source": skill.source,
        "path": str(skill.path),
        "used_by": used,
        "script": skill.meta.script,
        "digest": skill.digest,
    }


@click.group("skills")
def skills() -> None:
    """The skills catalog: orchtui's own skills/, yours, and the project's .orchtui/skills/."""


def _catalog(app: App) -> tuple[Catalog, set[tuple[str, str]], Path | None]:
    root = repo_root()
    return catalog_for(root), Vettings(app.ctx.store).vetted_digests(), root


@skills.command("list")
@json_option
@pass_app
def skills_list(app: App, as_json: bool) -> None:
    """Every skill with its source, version, trust and where it is used; broken ones too."""
    catalog, vetted, root = _catalog(app)
    used = uses(app.ctx, root)
    rows = [
        skill_json(s, effective_trust(s, vetted), used.get(s.name, []), catalog.shadowed.get(s.name))
        for s in catalog.skills.values()
    ]
    if as_json:
        emit_json({"skills": rows, "problems": [str(p) for p in catalog.problems]})
        return
    table(
        [
            [
                s.name,
                s.meta.version,
                effective_trust(s, vetted),
                s.source
                + (f" (shadows {catalog.shadowed[s.name].source})" if s.name in catalog.shadowed else ""),
                ", ".join(used.get(s.name, [])),
            ]
            for s in catalog.skills.values()
        ],
        ["name", "version", "trust", "source", "used by"],
    )
    for problem in catalog.problems:
        click.echo(f"orchtui: warning: {problem}", err=True)


@skills.command("show")
@click.argument("name")
@json_option
@pass_app
def skills_show(app: App, name: str, as_json: bool) -> None:
    catalog, vetted, root = _catalog(app)
    skill = catalog.get(name)
    if skill is None:
        raise NotFound(f"no skill {name!r} (orchtui skills list)")
    data = skill_json(
        skill,
        effective_trust(skill, vetted),
        uses(app.ctx, root).get(name, []),
    )
    if as_json:
        emit_json({**data, "instructions": skill.body})
        return
    for key, value in data.items():
        click.echo(f"{key:<15}{value}")
    click.echo("\n" + skill.body)


@skills.command("vet")
@click.argument("name")
@json_option
@pass_app
def skills_vet(app: App, name: str, as_json: bool) -> None:
    """Record that you vetted this exact text of the skill (a changed SKILL.md needs vetting again)."""
    skill = catalog_for(repo_root()).get(name)
    if skill is None:
        raise NotFound(f"no skill {name!r} (orchtui skills list)")
    row = vet(app.ctx, skill)
    if as_json:
        emit_json(
            {
                "name": skill.name,
                "version": row.version,
                "digest": row.digest,
                "who": row.who,
                "at": iso(row.at),
            }
        )
        return
    click.echo(f"vetted {skill.name} {skill.meta.version} ({skill.digest[:12]}) as {row.who}")
