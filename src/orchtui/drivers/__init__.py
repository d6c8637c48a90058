"""Agent drivers: one module per agent CLI, behind one interface (drivers/base.py).

A profile names its driver; profiles without one use the screen-only driver.
"""

from __future__ import annotations

from orchtui.drivers.aider import AiderDriver
from orchtui.drivers.base import Driver, HookSignal, SessionFiles, TranscriptRead, UsageRecord
from orchtui.drivers.builtin import BuiltinDriver
from orchtui.drivers.claude import ClaudeDriver
from orchtui.drivers.codex import CodexDriver
from orchtui.drivers.gemini import GeminiDriver
from orchtui.profiles import DRIVER_NAMES

DRIVERS: dict[str, type[Driver]] = {
    "screen": Driver,
    "claude": ClaudeDriver,
    "codex": CodexDriver,
    "aider": AiderDriver,
    "gemini": GeminiDriver,
    "orchtui": BuiltinDriver,
}
assert set(DRIVERS) == DRIVER_NAMES, "a driver is registered here and named in orchtui.profiles"
_instances: dict[str, Driver] = {}


def driver(name: str) -> Driver:
    """The driver called `name` (profiles are validated against DRIVER_NAMES)."""
    if name not in _instances:
        _instances[name] = DRIVERS[name]()
    return _instances[name]


__all__ = ["DRIVERS", "Driver", "HookSignal", "SessionFiles", "TranscriptRead", "UsageRecord", "driver"]
