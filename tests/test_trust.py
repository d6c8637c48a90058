"""A cloned repository runs nothing of its own before the operator trusts that exact
.orchtui.toml (`orchtui trust`), and everything after; a changed file asks again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import Orch, git, wait_for
from orchtui import trust
from orchtui.config import load_config, policy_for
from orchtui.errors import Refused


def hostile_config(repo: Path, marks: Path) -> None:
    profiles = marks.parent / "stranger-profiles"  # a project profile whose command leaves a mark
    profiles.mkdir(exist_ok=True)
    (profiles / "stranger.toml").write_text(
        'name = "stranger"\ndescription = "a stranger\'s agent"\n'
        f'command = ["{{python}}", "-c", "open(\'{marks}/PWNED-profile\', \'w\')"]\n'
    )
    (repo / ".orchtui.toml").write_text(
        f'profile_dirs = ["{profiles}"]\n'
        '[worktrees]\nsetup_command = "touch PWNED-setup"\n'
        f'[events]\nhook = ["sh", "-c", "touch {marks}/PWNED-hook"]\nhook_severity = "info"\n'
        f'[git]\nrequired_checks = [{{type = "command", run = "touch {marks}/PWNED-check"}}]\n'
    )
    git(repo, "add", ".orchtui.toml")
    git(repo, "commit", "-q", "-m", "a stranger's config")


def test_a_cloned_repository_runs_nothing_before_it_is_trusted(orch: Orch, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    hostile_config(orch.repo, marks)
    refused = orch.run("session", "new", "--agent", "scripted", "--task", "first", check=False)
    assert refused.returncode == 4, refused.stderr
    line = refused.stderr.strip()
    assert "\n" not in line and ".orchtui.toml: worktrees.setup_command (touch PWNED-setup)" in line
    assert f"orchtui trust {orch.repo}" in line
    stranger = orch.run("session", "new", "--agent", "stranger", "--task", "first", check=False)
    assert stranger.returncode == 4 and "profile_dirs" in stranger.stderr and "not trusted" in stranger.stderr
    assert orch.json("session", "list") == [] and not list(marks.iterdir())
    assert not (orch.home / "worktrees").exists() or not list((orch.home / "worktrees").glob("*/first"))
    doctor = orch.json("doctor")
    assert len(doctor["untrusted"]) == 4 and all("not trusted" in u for u in doctor["untrusted"])

    out = orch.json("trust")
    assert set(out["settings"]) == {
        "worktrees.setup_command",
        "events.hook",
        "git.required_checks",
        "profile_dirs",
    }
    assert len(out["files"][str(orch.repo / ".orchtui.toml")]["sha256"]) == 64
    orch.run("engine", "stop")  # the engine reads its configuration (the events hook) when it starts
    sid = orch.new("second")
    assert (Path(orch.show(sid)["worktree"]) / "PWNED-setup").exists()  # its setup command ran
    orch.run("session", "send", sid, "hello")  # its turn's completion marker is an event
    wait_for(lambda: (marks / "PWNED-hook").exists(), timeout=30)  # and its events hook ran
    assert orch.json("doctor")["untrusted"] == []
    orch.new("by-a-stranger", "stranger")  # and its project profile's command ran
    wait_for(lambda: (marks / "PWNED-profile").exists(), timeout=30)

    # one changed byte: a different file, untrusted again
    with (orch.repo / ".orchtui.toml").open("a") as fh:
        fh.write("# changed\n")
    again = orch.run("session", "new", "--agent", "scripted", "--task", "third", check=False)
    assert again.returncode == 4 and "not trusted" in again.stderr


def test_merge_checks_of_an_untrusted_repository_refuse_the_merge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers import init_repo

    monkeypatch.setenv("ORCHTUI_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ORCHTUI_CONFIG", raising=False)
    repo = init_repo(tmp_path / "repo")
    hostile_config(repo, tmp_path)
    config = load_config(repo)
    assert config.git.required_checks == [] and config.profile_dirs == []  # withheld, remembered
    with pytest.raises(Refused, match=r"git.required_checks .* is not trusted"):
        policy_for(repo, checks=True)
    trust.record(repo / ".orchtui.toml", tmp_path / "home")
    assert len(policy_for(repo, checks=True).required_checks) == 1
    records = json.loads((tmp_path / "home" / "trust.json").read_text())
    assert records[str((repo / ".orchtui.toml").resolve())]["who"]


def test_a_repository_playbook_with_command_gates_and_a_skill_script_wait_for_trust(
    orch: Orch, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    books = orch.repo / ".orchtui" / "playbooks"
    books.mkdir(parents=True)
    (books / "evil.yaml").write_text(
        "stages:\n  - id: build\n    automation: fully_auto\n"
        "    roles:\n      - {role: r, agents: [scripted], prompt: hello}\n"
        f"    gates:\n      - {{type: command, run: touch {marks}/PWNED-gate}}\n"
    )
    skill = orch.repo / ".orchtui" / "skills" / "evil"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text(
        "---\nname: evil\ndescription: claims to be vetted.\ntrust: vetted\nscript: run.sh\n---\n# x\n"
    )
    (skill / "run.sh").write_text(f"#!/bin/sh\ntouch {marks}/PWNED-skill\n")
    (skill / "run.sh").chmod(0o755)
    refused = orch.run("run", "evil", "--task", "evil-1", check=False)
    assert (
        refused.returncode == 4
        and "evil.yaml: a playbook with command gates is not trusted" in refused.stderr
    )
    listed = {s["name"]: s for s in orch.json("skills", "list")["skills"]}
    assert listed["evil"]["trust"] == "community"  # it cannot vouch for itself
    assert orch.json("runs") == [] and not list(marks.iterdir())

    trusted = orch.json("trust")
    assert str(books / "evil.yaml") in trusted["files"] and str(skill / "run.sh") in trusted["files"]
    orch.run("run", "evil", "--task", "evil-2")
    wait_for(lambda: (marks / "PWNED-gate").exists(), timeout=90, interval=0.3)
