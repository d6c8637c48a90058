"""The skills catalog: SKILL.md folders from several sources; a broken one is reported
with its path and field and never stops the others from loading."""

from __future__ import annotations

from pathlib import Path

from orchtui.paths import shipped
from orchtui.skills import MAX_BYTES, load_catalog

GOOD = (
    "---\nname: {name}\ndescription: Does a thing.\nversion: 1.2.0\ntrust: community\n---\n"
    "# Do it\n\nSteps.\n"
)


def skill(root: Path, name: str, text: str) -> Path:
    (root / name).mkdir(parents=True)
    path = root / name / "SKILL.md"
    path.write_text(text)
    return path


def test_the_shipped_skills_load_and_are_vetted() -> None:
    catalog = load_catalog([("builtin", shipped("skills"))])
    assert catalog.problems == []
    assert {
        "plan-task",
        "implement",
        "write-tests",
        "review-diff",
        "resolve-conflict",
        "summarise-stage",
    } <= set(catalog.skills)
    assert all(s.meta.trust == "vetted" and s.body.startswith("#") for s in catalog.skills.values())


def test_malformed_skills_are_reported_and_the_others_still_load(tmp_path: Path) -> None:
    root = tmp_path / "skills"
    skill(root, "fine", GOOD.format(name="fine"))
    bad = {
        "no-front": skill(root, "no-front", "# Just a body\n"),
        "bad-yaml": skill(root, "bad-yaml", "---\nname: bad-yaml\ndescription: [unclosed\n---\nbody\n"),
        "no-name": skill(root, "no-name", "---\ndescription: nameless\n---\nbody\n"),
        "huge": skill(root, "huge", GOOD.format(name="huge") + "x" * MAX_BYTES),
        "mismatch": skill(root, "mismatch", GOOD.format(name="other")),
        "bad-trust": skill(root, "bad-trust", GOOD.format(name="bad-trust").replace("community", "trusted")),
        "escape": skill(
            root, "escape", GOOD.format(name="escape").replace("---\n#", "script: ../../x.sh\n---\n#")
        ),
        "list": skill(root, "list", "---\n- a\n- b\n---\nbody\n"),
    }
    catalog = load_catalog([("project", root)])
    assert list(catalog.skills) == ["fine"]
    assert catalog.skills["fine"].meta.version == "1.2.0" and catalog.skills["fine"].source == "project"
    problems = {p.path: p.message for p in catalog.problems}
    assert problems[bad["no-front"]] == "no YAML front matter (the file must start with a '---' block)"
    assert problems[bad["bad-yaml"]].startswith("front matter is not valid YAML at line")
    assert problems[bad["no-name"]] == "name: Field required"
    assert problems[bad["huge"]].startswith("too large (")
    assert problems[bad["mismatch"]] == "name: 'other' differs from its folder 'mismatch'"
    assert problems[bad["bad-trust"]].startswith(
        "trust: Input should be 'vetted', 'community' or 'experimental'"
    )
    assert problems[bad["escape"]] == "script: '../../x.sh' is not a file inside the skill's folder"
    assert problems[bad["list"]] == "front matter must be a mapping of fields"
    assert str(catalog.problems[0]).startswith(str(root))  # one line: path, then the reason


def test_a_later_source_overrides_an_earlier_one(tmp_path: Path) -> None:
    builtin, user = tmp_path / "builtin", tmp_path / "user"
    skill(builtin, "same", GOOD.format(name="same"))
    skill(user, "same", GOOD.format(name="same").replace("1.2.0", "2.0.0"))
    catalog = load_catalog([("builtin", builtin), ("user", user), ("project", tmp_path / "missing")])
    assert catalog.skills["same"].source == "user" and catalog.skills["same"].meta.version == "2.0.0"
