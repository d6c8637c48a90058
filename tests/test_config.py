"""Configuration layers: user file < repository .orchtui.toml < ORCHTUI_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchtui.config import load_config
from orchtui.errors import ConfigError, UsageError
from orchtui.names import validate_branch, validate_task
from orchtui.paths import default_socket_name


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


@pytest.mark.parametrize("name", ["ok", "fix-login.2", "a_b", "x" * 63])
def test_good_task_names(name: str) -> None:
    assert validate_task(name) == name


@pytest.mark.parametrize("name", ["", "../x", "a/b", "A", "x y", "-x", ".x", "a..b", "x.lock", "x" * 64, "é"])
def test_bad_task_names(name: str) -> None:
    with pytest.raises(UsageError):
        validate_task(name)


@pytest.mark.parametrize("branch", ["orchtui/a b", "orchtui/a..b", "orchtui/a~1", "orchtui/@{x}", "-x"])
def test_branch_names_checked_by_git(branch: str) -> None:
    with pytest.raises(UsageError):
        validate_branch(branch)
