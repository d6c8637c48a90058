"""Bad input: one line naming the file/field or value, exit 2, no traceback, nothing changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from helpers import Orch, git, wait_for
from orchtui.store.tables import Project


def snapshot(orch: Orch) -> tuple[object, ...]:
    sessions = orch.json("session", "list", "--all")
    ledger = orch.json("ledger")
    worktrees = sorted(
        str(p)
        for p in (orch.home / "worktrees").rglob("*")
        if p.is_dir() and p.parent.parent == orch.home / "worktrees"
    )
    branches = git(orch.repo, "branch", "--format=%(refname:short)")
    return (
        [(s["id"], s["status"]) for s in sessions],
        [(r["id"], r["state"]) for r in ledger],
        worktrees,
        branches,
        sorted(orch.windows()),
    )


def assert_one_line_error(proc, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("orchtui: error: ")
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def world(settled_orch: Orch) -> tuple[Orch, tuple[object, ...]]:
    """A session that has answered a prompt, and the store, worktrees, branches and
    windows as they are then: what no bad input may change. Shared by the cases below."""
    orch = settled_orch
    sid = orch.new("good")
    orch.wait_status(sid, "idle", 60)
    orch.run("session", "send", sid, "hello")
    wait_for(lambda: orch.ledger_rows(sid)[-1].state == "done", 60)  # settled: nothing moves on its own
    orch.wait_status(sid, "idle", 60)
    return orch, snapshot(orch)


@pytest.fixture
def settled(world: tuple[Orch, tuple[object, ...]]) -> Orch:
    return world[0]


@pytest.fixture
def baseline(world: tuple[Orch, tuple[object, ...]]) -> tuple[object, ...]:
    return world[1]


CONFIGS = [
    ("[tmux\nsocket = 1", "invalid TOML"),
    ('[delivery]\nretries = "many"', "delivery.retries"),
    ('[tmux]\nsockt = "x"', "tmux.sockt"),
    ("[limits]\nmax_sessions = 0", "limits.max_sessions"),
    ("[tmux]\nwidth = 5", "tmux.width"),
    ('[budgets]\nday = "lots"', "budgets.day"),
    ('[pricing."gpt-x"]\ninput = -1\noutput = 2', "pricing.gpt-x.input"),
]


@pytest.mark.parametrize(("text", "field"), CONFIGS)
def test_invalid_user_config(settled: Orch, baseline: tuple[object, ...], text: str, field: str) -> None:
    config = settled.home / "config.toml"
    config.write_text(text)
    try:
        proc = settled.run("session", "new", "--agent", "scripted", "--task", "other", check=False)
    finally:
        config.unlink()
    assert_one_line_error(proc, str(config), field)
    assert snapshot(settled) == baseline


def test_invalid_repo_config_and_env_are_named(settled: Orch, baseline: tuple[object, ...]) -> None:
    repo_conf = settled.repo / ".orchtui.toml"
    repo_conf.write_text('[worktrees]\ncopy_files = "not-a-list"\n')
    try:
        proc = settled.run("session", "list", check=False)
    finally:
        repo_conf.unlink()
    assert_one_line_error(proc, str(repo_conf), "worktrees.copy_files")
    proc = settled.run("session", "list", check=False, env={"ORCHTUI_DELIVERY__RETRIES": "lots"})
    assert_one_line_error(proc, "$ORCHTUI_DELIVERY__RETRIES", "delivery.retries")
    assert snapshot(settled) == baseline


PROFILES = [
    ("command = []\n", "command"),
    ('command = ["x"]\n[[patterns]]\nstate = "idle"\nregex = "(unclosed"\n', "patterns.0.regex"),
    ('command = ["x", "{nope}"]\n', "unknown placeholder {nope}"),
    ('command = ["x"]\n[[patterns]]\nstate = "sleepy"\nregex = "z"\n', "patterns.0.state"),
    ('command = ["x"]\nbogus = 1\n', "bogus"),
    ('command = ["x"\n', "invalid TOML"),
    ('command = ["x"]\ndriver = "nope"\n', "driver"),
]


@pytest.mark.parametrize(("text", "field"), PROFILES)
def test_invalid_profile(
    settled: Orch, baseline: tuple[object, ...], tmp_path: Path, text: str, field: str
) -> None:
    folder = tmp_path / "profiles"
    folder.mkdir(exist_ok=True)
    bad = folder / "broken.toml"
    bad.write_text(text)
    env = {"ORCHTUI_PROFILE_DIRS": f'["{folder}"]'}
    proc = settled.run("session", "new", "--agent", "scripted", "--task", "other", check=False, env=env)
    assert_one_line_error(proc, str(bad), field)
    assert snapshot(settled) == baseline


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--task", "../escape"], "invalid task name '../escape'"),
        (["--task", "Has Space"], "invalid task name"),
        (["--task", "a/b"], "invalid task name"),
        (["--task", "-rf"], "invalid task name"),
        (["--task", "x.lock"], "invalid task name"),
        (["--task", "ok", "--base", "no-such-branch"], "--base 'no-such-branch' is not a branch"),
        (["--task", "ok", "--base", "HEAD~1"], "--base 'HEAD~1' is not a branch"),
        (["--task", "good"], "branch 'orchtui/good' already exists"),
        (["--task", "ok", "--prompt", "   "], "--prompt"),
    ],
)
def test_invalid_names_and_base(
    settled: Orch, baseline: tuple[object, ...], args: list[str], needle: str
) -> None:
    proc = settled.run("session", "new", "--agent", "scripted", *args, check=False)
    assert_one_line_error(proc, needle)
    assert snapshot(settled) == baseline


def test_unknown_agent_and_empty_prompt(settled: Orch, baseline: tuple[object, ...]) -> None:
    proc = settled.run("session", "new", "--agent", "nobody", "--task", "x", check=False)
    assert_one_line_error(proc, "unknown agent profile 'nobody'")
    sid = settled.json("session", "list")[0]["id"]
    proc = settled.run("session", "send", sid, "  \n ", check=False)
    assert_one_line_error(proc, "empty")
    proc = settled.run("session", "frobnicate", check=False)
    assert_one_line_error(proc, "frobnicate")
    assert snapshot(settled) == baseline


def test_outside_a_repository(orch: Orch, tmp_path: Path) -> None:
    elsewhere = tmp_path / "not-a-repo"
    elsewhere.mkdir()
    proc = orch.run("session", "new", "--agent", "scripted", "--task", "x", check=False, cwd=elsewhere)
    assert_one_line_error(proc, "not inside a git repository")


def test_a_repository_given_by_its_git_folder_is_its_work_tree(orch: Orch) -> None:
    """`--repo X/.git` (or a folder inside it) names the work tree X: one project, the
    worktree beside the others, never a project rooted in .git."""
    plain = orch.show(orch.new("plain"))
    for task, where in (("dotgit", orch.repo / ".git"), ("inside", orch.repo / ".git" / "refs")):
        made = orch.show(orch.new(task, "scripted", "--repo", str(where)))
        assert Path(made["worktree"]).parent == Path(plain["worktree"]).parent
    store = orch.store
    try:
        with store.db() as db:
            assert [p.path for p in db.exec(select(Project)).all()] == [str(orch.repo.resolve())]
    finally:
        store.close()
