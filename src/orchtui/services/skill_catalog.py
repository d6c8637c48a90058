"""What the CLI and the dashboard both do with the skills catalog: find where each skill
is used, and record a vetting."""

from __future__ import annotations

from pathlib import Path

from orchtui import paths
from orchtui.errors import OrchtuiError
from orchtui.playbook import load_playbook
from orchtui.services.context import Context
from orchtui.services.events import emit
from orchtui.services.sessions import operator
from orchtui.skills import Skill
from orchtui.store.tables import SkillVetting
from orchtui.store.vetting import Vettings


def uses(ctx: Context, root: Path | None) -> dict[str, list[str]]:
    """skill -> ["playbook:stage", …] over the playbooks orchtui would find from `root`."""
    folders = [paths.shipped("playbooks"), paths.user_config_file().parent / "playbooks"]
    if root is not None:
        folders.append(root / ".orchtui" / "playbooks")
    profiles = {p.name for p in ctx.profiles.all()}
    found: dict[str, list[str]] = {}
    for folder in folders:
        for path in sorted(folder.glob("*.y*ml")) if folder.is_dir() else []:
            try:
                book = load_playbook(path, profiles)
            except OrchtuiError:  # a broken playbook is reported where it is run
                continue
            for stage in book.stages:
                for role in stage.roles:
                    if role.skill:
                        found.setdefault(role.skill, []).append(f"{book.name}:{stage.id}")
    return found


def vet(ctx: Context, skill: Skill) -> SkillVetting:
    """Record that the operator vetted this exact text of the skill."""
    row = Vettings(ctx.store).add(skill.name, skill.meta.version, skill.digest, operator())
    emit(
        ctx,
        "skill.vetted",
        f"{skill.name} {skill.meta.version} vetted by {row.who}",
        skill=skill.name,
        version=skill.meta.version,
        digest=skill.digest,
    )
    return row


def vetted_digests(ctx: Context) -> set[tuple[str, str]]:
    """(name, digest) of every skill text an operator vetted."""
    return Vettings(ctx.store).vetted_digests()
