"""The engine's timing of the collector's full passes (engine/collector.py)."""

from __future__ import annotations

import gc
import logging

import pytest

from orchtui.engine import collector


def test_a_slow_full_pass_is_logged_and_a_young_one_is_not(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(collector, "SLOW_MS", 0.0)
    timed = collector.watch()
    try:
        with caplog.at_level(logging.INFO, logger="orchtui.engine"):
            kept = [[i] for i in range(50_000)]
            collector.log_slow()  # (a full pass may have come on its own meanwhile)
            caplog.clear()
            gc.collect(0)
            collector.log_slow()
            assert not [r for r in caplog.records if "collector:" in r.message]  # not a full pass
            gc.collect()
            assert not [r for r in caplog.records if "collector:" in r.message]  # noted, not logged yet
            collector.log_slow()
        lines = [r.message for r in caplog.records if "collector:" in r.message]
        assert len(lines) == 1 and " held the engine " in lines[0] and lines[0].endswith("freed)")
        assert len(kept) == 50_000
    finally:
        gc.callbacks.remove(timed)
