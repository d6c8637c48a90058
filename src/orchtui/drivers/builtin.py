"""orchtui's own agent (`orchtui agent`): it writes Claude Code's hook event names into
`$ORCHTUI_HOOK_FILE` itself, and its usage into the session's JSONL transcript."""

from __future__ import annotations

from typing import Any

from orchtui.drivers.base import Driver, HookSignal, SessionFiles
from orchtui.drivers.claude import ClaudeDriver


class BuiltinDriver(Driver):
    name = "orchtui"
    hooks = True

    def launch(self, files: SessionFiles, resume: str | None) -> tuple[list[str], dict[str, str]]:
        return [], {"ORCHTUI_HOOK_FILE": str(files.hook_file)}

    def on_hook(self, event: dict[str, Any]) -> HookSignal:
        signal = ClaudeDriver().on_hook(event)  # the same event names and meanings
        signal.transcript = None  # the usage lines are in the session's own transcript
        return signal
