"""The skills catalog: folders with a SKILL.md in the Agent Skills format.

A SKILL.md starts with YAML front matter (at least `name` and `description`; orchtui also
reads `version`, `trust`, `output`, `script`, `timeout`) and its body is the instructions.
Templates and scripts may sit beside it. Skills come from orchtui's own `skills/`, the
user's skills folder and the project's `.orchtui/skills/`; a later source overrides an
earlier one of the same name. A broken SKILL.md is reported with its path and the field,
and never stops the others from loading.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchtui import paths
from orchtui.errors import ConfigError
from orchtui.inputs import read_input

Trust = Literal["vetted", "community", "experimental"]
TRUST_LEVELS: tuple[Trust, ...] = ("vetted", "community", "experimental")
MAX_BYTES = 256 * 1024  # a SKILL.md larger than this is refused
FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)


class SkillMeta(BaseModel):
    model_config = ConfigDict(extra="allow")  # other Agent Skills fields (license, allowed-tools, …)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    description: str = Field(min_length=1, max_length=1024)
    version: str = Field(default="0.0.0", pattern=r"^\d+(\.\d+){0,2}([-+][0-9A-Za-z.-]+)?$")
    trust: Trust = "experimental"
    output: str | None = None  # the file the skill writes (the built-in agent's simple mode)
    script: str | None = None  # run instead of prompting an agent (relative to the skill folder)
    writes: bool = False  # its script may change the worktree (else a change fails the step)
    timeout: float = Field(default=300, gt=0, le=3600)


@dataclass(frozen=True)
class Skill:
    meta: SkillMeta
    body: str
    folder: Path
    source: str  # builtin | user | project
    digest: str  # sha256 of the SKILL.md: a vetting holds for exactly this text

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def path(self) -> Path:
        return self.folder / "SKILL.md"


@dataclass(frozen=True)
class SkillProblem:
    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class Catalog:
    skills: dict[str, Skill] = field(default_factory=dict)
    problems: list[SkillProblem] = field(default_factory=list)
    shadowed: dict[str, Skill] = field(default_factory=dict)  # name -> the skill a later source replaced

    def get(self, name: str) -> Skill | None:
        return self.skills.get(name)


def parse(path: Path, source: str) -> Skill:
    """One SKILL.md; raises ValueError with a one-line reason naming the field."""
    try:
        text = read_input(path, MAX_BYTES)
    except ConfigError as exc:  # a broken skill is listed as a problem; the others go on
        raise ValueError(str(exc).removeprefix(f"{path}: ")) from None
    match = FRONT.match(text)
    if match is None:
        raise ValueError("no YAML front matter (the file must start with a '---' block)")
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        raise ValueError(f"front matter is not valid YAML{where}") from None
    except (RecursionError, MemoryError):
        raise ValueError("front matter is nested too deeply") from None
    if not isinstance(data, dict):
        raise ValueError("front matter must be a mapping of fields")
    try:
        meta = SkillMeta.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ValueError(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from None
    except (RecursionError, MemoryError):
        raise ValueError("front matter is nested too deeply") from None
    if meta.name != path.parent.name:
        raise ValueError(f"name: {meta.name!r} differs from its folder {path.parent.name!r}")
    if meta.script is not None:
        script = (path.parent / meta.script).resolve()
        if not script.is_relative_to(path.parent.resolve()) or not script.is_file():
            raise ValueError(f"script: {meta.script!r} is not a file inside the skill's folder")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Skill(meta, text[match.end() :].strip(), path.parent, source, digest)


def load_catalog(sources: list[tuple[str, Path]]) -> Catalog:
    """Every skill under each (source, folder), later sources overriding earlier ones."""
    catalog = Catalog()
    for source, folder in sources:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*/SKILL.md")):
            try:
                skill = parse(path, source)
            except (ValueError, OSError) as exc:
                catalog.problems.append(SkillProblem(path, str(exc)))
                continue
            if skill.name in catalog.skills:
                catalog.shadowed[skill.name] = catalog.skills[skill.name]
            catalog.skills[skill.name] = skill
    return catalog


def sources(repo_root: Path | None) -> list[tuple[str, Path]]:
    """Where skills come from, in override order: orchtui's own, the user's, the project's."""
    found = [("builtin", paths.shipped("skills")), ("user", paths.user_config_file().parent / "skills")]
    if repo_root is not None:
        found.append(("project", repo_root / ".orchtui" / "skills"))
    return found


def catalog_for(repo_root: Path | None) -> Catalog:
    return load_catalog(sources(repo_root))


def effective_trust(skill: Skill, vetted: set[tuple[str, str]]) -> Trust:
    """`vetted` only when an operator vetted this exact text, or for orchtui's own
    skills. A user or project skill's declared level is a suggestion: never above
    `community` on its own word (a skill cannot vouch for itself)."""
    if (skill.name, skill.digest) in vetted or skill.source == "builtin":
        return "vetted" if (skill.name, skill.digest) in vetted else skill.meta.trust
    return "community" if skill.meta.trust == "vetted" else skill.meta.trust
