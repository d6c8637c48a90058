"""Configuration layers: user file < repository .orchtui.toml < ORCHTUI_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import git, init_repo
from orchtui.config import load_config
from orchtui.errors import ConfigError, UsageError
from orchtui.names import validate_branch, validate_task
from orchtui.paths import default_socket_name
from orchtui.runtime.git import GitRepo


def test_layers_and_env_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text("[delivery]\nretries = 5\nverify_timeout = 9\n[tmux]\nwidth = 120\n")
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".orchtui.toml").write_text("[delivery]\nretries = 3\n[worktrees]\ncopy_files = ['.env']\n")
    env = {
        "ORCHTUI_HOME": str(home),
        "ORCHTUI_DELIVERY__VERIFY_TIMEOUT": "2.5",
        "ORCHTUI_TMUX_SOCKET": "mine",
    }
    monkeypatch.setenv("ORCHTUI_HOME", str(home))
    monkeypatch.delenv("ORCHTUI_CONFIG", raising=False)
    config = load_config(repo, env)
    assert config.delivery.retries == 3  # repo beats user
    assert config.delivery.verify_timeout == 2.5  # env beats both
    assert config.tmux.width == 120 and config.socket_name == "mine"
    assert config.worktrees.copy_files == [".env"]
    assert config.home == home.resolve()
    assert config.db_url == f"sqlite:///{home.resolve() / 'orchtui.db'}"


def test_default_socket_is_dedicated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORCHTUI_HOME", raising=False)
    assert default_socket_name(tmp_path) == "orchtui"
    monkeypatch.setenv("ORCHTUI_HOME", str(tmp_path))
    assert default_socket_name(tmp_path).startswith("orchtui-")


def test_errors_name_file_and_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHTUI_HOME", str(tmp_path))
    monkeypatch.delenv("ORCHTUI_CONFIG", raising=False)
    (tmp_path / "config.toml").write_text("[engine]\nreconcile_interval = 0\n")
    with pytest.raises(ConfigError, match=r"config.toml: engine.reconcile_interval: "):
        load_config(tmp_path, {"ORCHTUI_HOME": str(tmp_path)})


def test_mcp_allow_names_groups_or_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHTUI_HOME", str(tmp_path))
    monkeypatch.delenv("ORCHTUI_CONFIG", raising=False)
    env = {"ORCHTUI_HOME": str(tmp_path)}
    (tmp_path / "config.toml").write_text('[mcp]\nallow = ["planning", "send_command"]\n')
    allowed = load_config(tmp_path, env).mcp.allowed()
    assert allowed == {"plan_stage_allocation", "propose_stage_execution", "send_command"}
    (tmp_path / "config.toml").write_text('[mcp]\nallow = ["approve"]\n')
    with pytest.raises(ConfigError, match=r"config.toml: mcp.allow: .*'approve' is not a tool or group"):
        load_config(tmp_path, env)


@pytest.mark.parametrize("name", ["ok", "fix-login.2", "a_b", "x" * 63])
def test_good_task_names(name: str) -> None:
    assert validate_task(name) == name


@pytest.mark.parametrize(
    "name", ["", "../x", "a/b", "A", "x y", "-x", ".x", "a..b", "x.lock", "x" * 64, "é", "ok\n", "ok\n\n"]
)
def test_bad_task_names(name: str) -> None:
    with pytest.raises(UsageError):
        validate_task(name)


@pytest.mark.parametrize(
    "branch",
    ["orchtui/a b", "orchtui/a..b", "orchtui/a~1", "orchtui/@{x}", "-x", "refs/heads/x", "HEAD", "@"],
)
def test_branch_names_checked_by_git(branch: str) -> None:
    with pytest.raises(UsageError):
        validate_branch(branch)


def test_a_branch_prefix_that_leaves_refs_heads_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCHTUI_HOME", str(tmp_path))
    monkeypatch.delenv("ORCHTUI_CONFIG", raising=False)
    (tmp_path / "config.toml").write_text('[worktrees]\nbranch_prefix = "refs/heads/"\n')
    with pytest.raises(ConfigError, match=r"config.toml: worktrees.branch_prefix: .*refs/"):
        load_config(tmp_path, {"ORCHTUI_HOME": str(tmp_path)})


@pytest.mark.parametrize(
    "base", ["HEAD", "refs/heads/main", "main~1", "main^", "@", "main@{0}", "v1", "nope"]
)
def test_a_base_must_name_a_branch(tmp_path: Path, base: str) -> None:
    repo = init_repo(tmp_path / "repo")
    git(repo, "commit", "-q", "--allow-empty", "-m", "second")
    git(repo, "tag", "v1")
    with pytest.raises(UsageError, match="is not a branch"):
        GitRepo(repo).resolve_base(base)


def test_local_and_remote_tracking_branches_are_bases(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    git(repo, "update-ref", "refs/remotes/origin/dev", "HEAD")
    assert GitRepo(repo).resolve_base("main") == "main"
    assert GitRepo(repo).resolve_base("origin/dev") == "origin/dev"
    assert GitRepo(repo).resolve_base(None) == "main"
    git(repo, "switch", "-q", "--detach")
    with pytest.raises(UsageError, match="detached"):
        GitRepo(repo).resolve_base(None)


@pytest.mark.parametrize(
    ("text", "field", "hint"),
    [
        ('[keys]\nnew_sesion = "f2"\n', "keys", "did you mean 'new_session'"),
        ('[ui]\ntheme = "orchtiu"\n', "ui.theme", "did you mean 'orchtui'"),
    ],
)
def test_unknown_keys_and_themes_are_refused_with_a_near_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, field: str, hint: str
) -> None:
    monkeypatch.setenv("ORCHTUI_HOME", str(tmp_path))
    monkeypatch.delenv("ORCHTUI_CONFIG", raising=False)
    (tmp_path / "config.toml").write_text(text)
    with pytest.raises(ConfigError, match=rf"config.toml: {field}: .*{hint}"):
        load_config(tmp_path, {"ORCHTUI_HOME": str(tmp_path)})


def test_every_dashboard_binding_is_a_known_key_action() -> None:
    from textual.binding import Binding

    from orchtui.config import KEY_ACTIONS
    from orchtui.ui.app import OrchtuiApp

    ids = {b.id for b in OrchtuiApp.BINDINGS if isinstance(b, Binding) and b.id}
    assert ids == set(KEY_ACTIONS)


@pytest.mark.parametrize("key", ["C-q; run-shell touch pwned", "C-\\\\", "q", "C-q\\nbind x kill-server"])
def test_a_detach_key_that_is_not_one_plain_tmux_key_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    """The key is written into orchtui's tmux.conf: nothing but a plain key name gets there."""
    monkeypatch.setenv("ORCHTUI_HOME", str(tmp_path))
    monkeypatch.delenv("ORCHTUI_CONFIG", raising=False)
    (tmp_path / "config.toml").write_text(f'[tmux]\ndetach_key = "{key}"\n')
    with pytest.raises(ConfigError, match=r"config.toml: tmux.detach_key"):
        load_config(tmp_path, {"ORCHTUI_HOME": str(tmp_path)})
