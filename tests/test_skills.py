"""The skills catalog: SKILL.md folders from several sources; a broken one is reported
with its path and field and never stops the others from loading."""

from __future__ import annotations

from pathlib import Path

from helpers import Orch, wait_for
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


def test_a_fully_auto_stage_runs_only_vetted_skills(orch: Orch, tmp_path: Path) -> None:
    path = skill(orch.repo / ".orchtui" / "skills", "lint-fix", GOOD.format(name="lint-fix"))
    book = tmp_path / "auto.yaml"
    book.write_text(
        "name: auto\nstages:\n  - id: tidy\n    automation: fully_auto\n"
        "    roles: [{role: tidier, agents: [scripted], skill: lint-fix}]\n"
    )
    refused = orch.run("run", str(book), "--task", "tidy", check=False)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        f"orchtui: error: {book}: stages.0.roles.0.skill: 'lint-fix' is community; a fully_auto stage runs "
        "only vetted skills (vet it with `orchtui skills vet lint-fix`, or lower the stage's automation)"
    )
    assert orch.json("runs") == []
    listed = {s["name"]: s for s in orch.json("skills", "list")["skills"]}
    assert listed["lint-fix"]["trust"] == "community" and listed["lint-fix"]["source"] == "project"
    vet = orch.json("skills", "vet", "lint-fix")
    assert vet["version"] == "1.2.0" and len(vet["digest"]) == 64
    assert orch.json("skills", "show", "lint-fix")["trust"] == "vetted"
    run_id = orch.run("run", str(book), "--task", "tidy").stdout.strip()
    wait_for(lambda: orch.json("runs")[0]["state"] == "done", timeout=60, interval=0.3)
    prompts = [r for r in orch.ledger_rows() if r.actor.startswith(f"run:{run_id}:")]
    assert prompts and "# Do it" in prompts[0].text  # the skill's instructions were the prompt
    assert any(e["kind"] == "skill.vetted" for e in orch.json("events"))
    # a changed SKILL.md is a different text: it needs vetting again
    path.write_text(GOOD.format(name="lint-fix").replace("Steps.", "Other steps."))
    again = orch.run("run", str(book), "--task", "tidy-2", check=False)
    assert again.returncode == 2 and "'lint-fix' is community" in again.stderr
    unknown = book.read_text().replace("skill: lint-fix", "skill: nowhere")
    book.write_text(unknown)
    missing = orch.run("run", str(book), "--task", "tidy-3", check=False)
    assert missing.returncode == 2 and "stages.0.roles.0.skill: no skill 'nowhere'" in missing.stderr


def test_a_skill_cannot_vouch_for_itself_and_shadowing_is_shown(orch: Orch) -> None:
    """A project SKILL.md that declares `trust: vetted` and shadows a shipped skill is
    listed as shadowing it, and is `community` until an operator vets its exact text."""
    text = GOOD.format(name="plan-task").replace("trust: community", "trust: vetted")
    assert "trust: vetted" in text
    skill(orch.repo / ".orchtui" / "skills", "plan-task", text)
    listed = {s["name"]: s for s in orch.json("skills", "list")["skills"]}
    mine = listed["plan-task"]
    assert mine["source"] == "project" and mine["declared_trust"] == "vetted"
    assert mine["trust"] == "community"
    assert mine["shadows"] and mine["shadows"].startswith("builtin ")
    assert "project (shadows builtin)" in orch.run("skills", "list").stdout
    orch.json("skills", "vet", "plan-task")
    assert orch.json("skills", "show", "plan-task")["trust"] == "vetted"


def test_an_auto_notify_stage_asks_before_it_runs_a_community_skill(orch: Orch, tmp_path: Path) -> None:
    """auto_notify runs on its own, except a skill nobody vetted: then a person approves
    its start first (the approval names the skill and its trust); once vetted, it asks no
    more."""
    skill(orch.repo / ".orchtui" / "skills", "lint-fix", GOOD.format(name="lint-fix"))
    book = tmp_path / "notify.yaml"
    book.write_text(
        "name: notify\nstages:\n  - id: tidy\n    automation: auto_notify\n"
        "    roles: [{role: tidier, agents: [scripted], skill: lint-fix}]\n"
    )
    run_id = orch.run("run", str(book), "--task", "tidy").stdout.strip()
    asked = wait_for(lambda: orch.json("approvals"), timeout=60, interval=0.3)
    assert [(a["stage"], a["action"], a["state"]) for a in asked] == [("tidy", "start", "pending")]
    run = orch.json("runs")[0]
    assert run["state"] == "waiting_approval" and "lint-fix (community)" in run["detail"]
    assert not [r for r in orch.ledger_rows() if r.actor.startswith(f"run:{run_id}:")]  # nothing ran
    orch.run("approve", str(asked[0]["id"]))
    wait_for(lambda: orch.json("runs")[0]["state"] == "done", timeout=60, interval=0.3)
    orch.run("skills", "vet", "lint-fix")
    orch.run("run", str(book), "--task", "tidy-2")
    wait_for(lambda: [r["state"] for r in orch.json("runs")] == ["done", "done"], timeout=60, interval=0.3)
    assert len(orch.json("approvals", "--all")) == 1  # the vetted skill ran without asking
