"""Every file orchtui reads gets a one-line error for bad bytes, deep nesting, huge size
or bad syntax: config, playbooks, agent profiles, SKILL.md and themes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchtui.config import load_config
from orchtui.errors import ConfigError
from orchtui.playbook import load_playbook
from orchtui.profiles import _load_file
from orchtui.skills import parse
from orchtui.ui.theme import load_theme

DEEP = 50_000


def bad_files(kind: str) -> dict[str, bytes]:
    lead = (
        b"---\nname: s\ndescription: "
        if kind == "skill"
        else b"name: x\nstages: "
        if kind == "yaml"
        else b"x = "
    )
    deep = b"[" * DEEP + b"]" * DEEP
    tail = b"\n---\nbody\n" if kind == "skill" else b"\n"
    return {
        "undecodable": lead + b'"\xff\xfe"' + tail,
        "deep": lead + deep + tail,
        "huge": lead + b"#" * (2 * 1024 * 1024) + tail,
        "syntax": lead + b"[[[ {{{ : :" + tail,
    }


def load_as(kind: str, tmp_path: Path) -> tuple[str, Callable[[Path], object]]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    loaders: dict[str, tuple[str, Callable[[Path], object]]] = {
        "config": ("config.toml", lambda p: load_config(tmp_path, {"ORCHTUI_HOME": str(p.parent)})),
        "yaml": ("book.yaml", lambda p: load_playbook(p, set())),
        "profile": ("prof.toml", _load_file),
        "theme": ("bad.toml", lambda p: load_theme("bad", p.parent)),
        "skill": ("s/SKILL.md", lambda p: parse(p, "project")),
    }
    return loaders[kind]


@pytest.mark.parametrize("kind", ["config", "yaml", "profile", "theme", "skill"])
def test_bad_bytes_depth_size_and_syntax_are_one_line_errors(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, load = load_as(kind, tmp_path)
    for case, data in bad_files("skill" if kind == "skill" else "yaml" if kind == "yaml" else "toml").items():
        folder = tmp_path / case
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        monkeypatch.setenv("ORCHTUI_HOME", str(path.parent))
        with pytest.raises((ConfigError, ValueError)) as caught:
            load(path)
        message = str(caught.value)
        assert "\n" not in message and len(message) < 400, (kind, case, message)
        if isinstance(caught.value, ConfigError):
            assert str(path) in message, (kind, case, message)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400), kind=st.sampled_from(["yaml", "profile", "skill"]))
def test_any_bytes_give_a_clean_error_or_a_value(tmp_path: Path, data: bytes, kind: str) -> None:
    name, load = load_as(kind, tmp_path)
    path = tmp_path / "fuzz" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"---\n" + data + b"\n---\n") if kind == "skill" else data)
    try:
        load(path)
    except (ConfigError, ValueError) as exc:
        assert "\n" not in str(exc)


def test_a_theme_with_a_stray_colour_key_is_a_one_line_error(tmp_path: Path) -> None:
    """Found by scripts/fuzz_inputs.py: `name` among the colours reached Textual's Theme
    as a second `name` and ended in a TypeError (exit 70)."""
    (tmp_path / "odd.toml").write_text('[colors]\nprimary = "#112233"\nname = "x"\n')
    with pytest.raises(ConfigError, match=r"odd.toml: colors.name: not a theme colour"):
        load_theme("odd", tmp_path)
    (tmp_path / "odd.toml").write_text("[colors]\nprimary = 7\n")
    with pytest.raises(ConfigError, match=r"odd.toml: colors.primary: a colour is a string"):
        load_theme("odd", tmp_path)
