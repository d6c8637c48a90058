"""The playbook format: shipped playbooks load; bad ones are refused with file:field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchtui.errors import ConfigError
from orchtui.playbook import Playbook, load_playbook, playbook_schema

ROOT = Path(__file__).parent.parent
PROFILES = {"claude", "codex", "aider", "gemini", "scripted"}


def test_shipped_playbooks_load() -> None:
    for path in (ROOT / "playbooks").glob("*.yaml"):
        playbook = load_playbook(path, PROFILES)
        assert playbook.stages
    default = load_playbook(ROOT / "playbooks" / "default.yaml", PROFILES)
    assert [s.id for s in default.stages] == ["plan", "build", "test", "review", "merge"]
    assert default.dependencies()["merge"] == ["review"]


def test_json_schema_in_docs_is_current() -> None:
    on_disk = json.loads((ROOT / "docs" / "playbook.schema.json").read_text())
    assert on_disk == playbook_schema(), "regenerate: python -m orchtui.playbook > docs/playbook.schema.json"


BAD = [
    ("stages: []\n", "stages: List should have at least 1 item"),
    ("stages:\n  - id: a\n    needs: [nope]\n", "stages.0.needs: unknown stage 'nope'"),
    (
        "stages:\n  - id: a\n    roles:\n      - {role: dev, agents: [ghost], prompt: hi}\n",
        "stages.0.roles.0.agents: unknown agent profile 'ghost'",
    ),
    (
        "stages:\n  - id: a\n    gates:\n      - {type: command}\n",
        "stages.0.gates.0.command.run: Field required",
    ),
    ("stages:\n  - id: a\n    gates:\n      - {type: telepathy}\n", "stages.0.gates.0"),
    (
        "stages:\n  - id: a\n    gates:\n      - {type: content_check, path: PLAN.md}\n",
        "stages.0.gates.0.content_check: content_check needs headings, patterns or a section",
    ),
    (
        "stages:\n  - id: a\n    needs: [b]\n  - id: b\n    needs: [a]\n",
        "stages: dependency cycle: a -> b -> a",
    ),
    ("stages:\n  - id: a\n  - id: a\n", "stages.1.id: duplicate stage id 'a'"),
    (
        "stages:\n  - id: a\n    worktree: own\n  - id: b\n    needs: []\n    worktree: a\n",
        "stages.1.worktree: works in 'a''s worktree, so it needs 'a'",
    ),
    ("stages:\n  - id: a\n    automation: yolo\n", "stages.0.automation"),
    ("stages:\n  - id: a\n    worktree: elsewhere\n", "stages.0.worktree: unknown stage 'elsewhere'"),
    (
        "stages:\n  - id: a\n    roles:\n      - {role: dev, agents: [claude]}\n",
        "stages.0.roles.0: a role needs a prompt or a skill",
    ),
    ("stages: [\n", "invalid YAML (line 2)"),
    ("- just a list\n", "a playbook is a mapping"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_playbooks_are_refused_with_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_playbook(path, PROFILES)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_waves_say_which_stages_may_run_side_by_side() -> None:
    book = Playbook.model_validate(
        {
            "name": "g",
            "stages": [
                {"id": "a", "needs": []},
                {"id": "b", "needs": []},
                {"id": "c", "needs": ["a", "b"]},
                {"id": "d"},  # default: after the previous stage
            ],
        }
    )
    assert book.waves() == {"a": 0, "b": 0, "c": 1, "d": 2}
    assert book.dependencies()["d"] == ["c"]


def test_a_role_may_be_a_supervisor(tmp_path: Path) -> None:
    path = tmp_path / "lead.yaml"
    path.write_text(
        "name: lead\nstages:\n  - id: lead\n    roles:\n"
        "      - {role: lead, agents: [claude], prompt: run the crew, supervisor: true}\n"
    )
    [stage] = load_playbook(path, PROFILES).stages
    assert stage.roles[0].supervisor
