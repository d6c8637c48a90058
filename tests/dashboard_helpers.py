"""Helpers for driving the dashboard with Pilot."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

KEYS = {" ": "space", "\n": "enter", "-": "minus", ".": "full_stop", "/": "slash", "_": "underscore"}


async def type_text(pilot: Pilot[Any], text: str) -> None:
    await pilot.press(*[KEYS.get(ch, ch) for ch in text])


async def until(pilot: Pilot[Any], condition: Callable[[], Any], timeout: float = 60.0) -> Any:
    end = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {condition}")
        await pilot.pause(0.1)
