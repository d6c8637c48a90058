"""The engine's timing of the collector's full passes (engine/collector.py)."""

from __future__ import annotations

import gc
import logging
import weakref

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


class Node:
    me: object = None


def test_full_passes_come_only_when_quiet_or_overdue(monkeypatch: pytest.MonkeyPatch) -> None:
    full: list[float] = []
    timed = collector.watch(lambda ms, _freed: full.append(ms))
    passes = collector.FullPasses()
    before = gc.get_threshold()
    passes.take_over()
    try:
        node = Node()  # lives through the passes below
        kept = []
        for _ in range(30):  # plenty of young passes, each moving survivors along
            kept.append([[i] for i in range(20_000)])
        assert not full  # none came on its own
        assert not passes.maybe(quiet_for=0.0)  # busy, and the last pass is recent
        assert not full
        assert passes.maybe(quiet_for=collector.QUIET)  # quiet: now
        assert len(full) == 1
        monkeypatch.setattr(collector, "FULL_EVERY", 0.0)
        assert passes.maybe(quiet_for=0.0)  # overdue: busy or not
        assert len(full) == 2
        # what lived through a pass is frozen, and garbage made among it later is freed by
        # the pass over everything (WHOLE_EVERY)
        assert gc.get_freeze_count() > 0
        ring = weakref.ref(node)
        node.me = node  # a cycle, frozen, now garbage
        del node
        passes.maybe(quiet_for=collector.QUIET)
        assert ring() is not None  # frozen: not looked at
        monkeypatch.setattr(collector, "WHOLE_EVERY", 0.0)
        passes.maybe(quiet_for=collector.QUIET)
        assert ring() is None
    finally:
        passes.give_back()
        gc.unfreeze()
        gc.callbacks.remove(timed)
    assert gc.get_threshold() == before
