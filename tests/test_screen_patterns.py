"""The shipped profiles classify real captured screens of Claude Code, Codex, aider and
Gemini CLI.

Fixtures are `capture-pane -p` screens from the real CLIs (tests/fixtures/screens).
The capture harness appended `[[EXITED rc=N]]` when the process ended; orchtui learns
that from tmux (pane death), so the loader turns that line into the pane-dead signal.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchtui.profiles import ProfileRegistry
from orchtui.screen.classify import classify

SCREENS = Path(__file__).parent / "fixtures" / "screens"
EXITED = re.compile(r"^\[\[EXITED rc=(\d+)\]\]$")

EXPECTED: dict[tuple[str, str], str | None] = {
    ("claude", "01_idle"): "idle",
    ("claude", "02_typed"): "idle",
    ("claude", "03_working"): "working",
    ("claude", "04_working_later"): "working",
    ("claude", "05_done"): "idle",
    ("claude", "06_perm_bash"): "waiting",
    ("claude", "07_after_bash"): "idle",
    ("claude", "08_perm_write"): "waiting",
    ("claude", "09_after_write"): "idle",
    ("claude", "10_api_error"): "error",
    ("claude", "11_after_idle_wait"): "error",
    ("claude", "12_typed_exit"): "error",  # typing /exit after a failed turn
    ("claude", "13_exited"): "exited",
    ("claude_bypass", "01_idle"): "idle",
    ("claude_bypass", "02_typed"): "idle",
    ("claude_bypass", "03_working"): "working",
    ("claude_bypass", "04_working_later"): "working",
    ("claude_bypass", "05_done"): "idle",
    ("claude_bypass", "06_after_bash"): "idle",
    ("claude_bypass", "07_after_write"): "working",  # still running its stop hook
    ("claude_bypass", "08_api_error"): "error",
    ("claude_bypass", "09_typed_exit"): "error",
    ("claude_bypass", "10_exited"): "exited",
    ("codex", "01_idle"): "idle",
    ("codex", "02_working"): "working",
    ("codex", "03_streaming"): "working",
    ("codex", "04_done"): "idle",
    ("codex", "05_after_sandboxed_cmd"): "idle",
    ("codex", "06_approval"): "waiting",
    ("codex", "07_after_approval"): "idle",
    ("codex", "08_api_error"): "error",
    ("codex", "09_exited"): "exited",
    ("aider", "01_idle"): "idle",
    ("aider", "02_waiting"): "working",  # "Waiting for openai/fake" is aider waiting on the model
    ("aider", "03_streaming"): "working",
    ("aider", "04_done"): "idle",
    ("aider", "05_edit_committed"): "idle",
    ("aider", "06_api_error"): "error",
    ("aider", "07_exited"): "exited",
    ("aider_confirm", "01_idle"): "idle",
    ("aider_confirm", "02_waiting"): "working",
    ("aider_confirm", "03_streaming"): "working",
    ("aider_confirm", "04_done"): "idle",
    ("aider_confirm", "05_confirm_create"): "waiting",
    ("aider_confirm", "06_edit_committed"): "idle",
    ("aider_confirm", "07_api_error"): "error",
    ("aider_confirm", "08_exited"): "exited",
    ("gemini", "01_idle"): "idle",
    ("gemini", "02_typed"): None,  # the input box holds text: the status stays as it was
    ("gemini", "03_working"): "working",
    ("gemini", "04_done"): "idle",
    ("gemini", "06_perm_shell"): "waiting",
    ("gemini", "07_after_allow"): "idle",
    ("gemini", "08_after_tool"): "idle",
    ("gemini", "10_api_error"): "error",
    ("gemini", "13_exited"): "exited",
}


def load_screen(path: Path) -> tuple[list[str], int | None]:
    lines = path.read_text(encoding="utf-8").splitlines()
    exit_code = None
    if lines and (m := EXITED.match(lines[-1].strip())):
        exit_code = int(m.group(1))
        lines = lines[:-1]
    return lines, exit_code


def status_of(lines: list[str], exit_code: int | None, profile_name: str) -> str | None:
    profile = ProfileRegistry([]).get(profile_name)
    verdict = classify(lines, profile)
    if exit_code is not None:
        return "exited"  # pane death outranks the screen, as in the engine
    return verdict.state


def test_every_fixture_has_an_expectation() -> None:
    found = {(p.parent.name, p.stem) for p in SCREENS.glob("*/*.txt")}
    assert found == set(EXPECTED)


@pytest.mark.parametrize(("folder", "name"), sorted(EXPECTED))
def test_real_screen_classified(folder: str, name: str) -> None:
    profile = folder.split("_")[0]
    lines, exit_code = load_screen(SCREENS / folder / f"{name}.txt")
    assert status_of(lines, exit_code, profile) == EXPECTED[(folder, name)]


@pytest.mark.parametrize(
    ("folder", "name"), [("claude", "13_exited"), ("codex", "09_exited"), ("gemini", "13_exited")]
)
def test_exit_screens_classified_without_pane_signal(folder: str, name: str) -> None:
    """Claude and Codex print a resume hint on exit; the screen alone says exited."""
    lines, _ = load_screen(SCREENS / folder / f"{name}.txt")
    profile = ProfileRegistry([]).get(folder)
    verdict = classify(lines, profile)
    assert verdict.state == "exited"
    assert verdict.conversation_id is not None and len(verdict.conversation_id) == 36


def test_claude_resume_id_read_from_exit_screen() -> None:
    lines, _ = load_screen(SCREENS / "claude" / "13_exited.txt")
    verdict = classify(lines, ProfileRegistry([]).get("claude"))
    assert verdict.conversation_id == "dbf61e74-4d20-4e4f-8d0d-0b49a472eb54"
