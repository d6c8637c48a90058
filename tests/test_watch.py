"""Wake-ups on file changes (runtime/watch.py): inotify, and watchfiles where it is missing."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from orchtui.runtime.watch import Backlog, changes, changes_sync


@pytest.mark.parametrize("use_inotify", [True, False])
async def test_changes_reports_appends_and_new_files_in_each_directory(
    tmp_path: Path, use_inotify: bool
) -> None:
    logs, events = tmp_path / "logs", tmp_path / "events"
    logs.mkdir()
    events.mkdir()
    (logs / "a.log").write_bytes(b"")
    stop = asyncio.Event()
    seen: set[Path] = set()

    async def follow() -> None:
        async for paths in changes([logs, events], 10, stop, use_inotify=use_inotify):
            seen.update(paths)
            if {logs / "a.log", events / "hooks-x"} <= seen:
                stop.set()

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.3)  # the watch is set up
    with (logs / "a.log").open("ab") as fh:
        fh.write(b"output\n")
    (events / "hooks-x").write_text("{}\n")
    await asyncio.wait_for(task, 30)
    assert {logs / "a.log", events / "hooks-x"} <= seen


async def test_an_idle_watch_uses_no_cpu(tmp_path: Path) -> None:
    """inotify sits in the loop's selector: nothing wakes while nothing changes (watchfiles
    polls every `step` ms: ~55 ms of CPU in these 2 s at its 2 ms step)."""
    stop = asyncio.Event()

    async def follow() -> None:
        async for _paths in changes([tmp_path], 10, stop):
            pass

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.2)
    used = time.process_time()
    await asyncio.sleep(2.0)
    used = time.process_time() - used
    stop.set()
    await asyncio.wait_for(task, 10)
    assert used < 0.01, f"{used * 1000:.1f} ms of CPU while idle"


@pytest.mark.parametrize("use_inotify", [True, False])
def test_changes_sync_times_out_empty_and_keeps_only_what_is_asked(tmp_path: Path, use_inotify: bool) -> None:
    def later() -> None:
        time.sleep(0.5)
        (tmp_path / "other").write_text("x")
        (tmp_path / "orchtui.db-wal").write_text("x")

    batches = changes_sync([tmp_path], 200, lambda p: p.name == "orchtui.db-wal", use_inotify=use_inotify)
    start = time.monotonic()
    assert next(batches) == set()  # nothing within 200 ms
    assert time.monotonic() - start >= 0.15
    threading.Thread(target=later).start()
    found: set[Path] = set()
    for batch in batches:
        found |= batch
        if found or time.monotonic() - start > 30:
            break
    assert found == {tmp_path / "orchtui.db-wal"}


async def test_changes_made_while_a_batch_is_handled_wait_in_the_backlog_and_come_next(
    tmp_path: Path,
) -> None:
    """Other work on the loop can see that output is waiting (engine/followups.py), and
    what came while a batch was handled is handed out without another debounce."""
    stop = asyncio.Event()
    backlog = Backlog()
    batches: list[set[str]] = []
    seen_waiting: list[set[str]] = []
    handed: list[float] = []

    async def follow() -> None:
        async for paths in changes([tmp_path], 2000, stop, backlog=backlog):
            handed.append(time.monotonic())
            batches.append({p.name for p in paths})
            if len(batches) == 1:
                (tmp_path / "b.log").write_bytes(b"x")  # while this batch is handled
                time.sleep(0.3)  # (blocking: the loop hears of it only afterwards)
            else:
                stop.set()

    async def look() -> None:  # what another callback on the loop sees between batches
        while not stop.is_set():
            if backlog:
                seen_waiting.append({p.name for p in backlog.paths})
            await asyncio.sleep(0)

    task = asyncio.create_task(follow())
    looker = asyncio.create_task(look())
    await asyncio.sleep(0.3)
    (tmp_path / "a.log").write_bytes(b"x")
    await asyncio.wait_for(task, 30)
    await asyncio.wait_for(looker, 10)
    assert batches == [{"a.log"}, {"b.log"}]
    assert {"b.log"} in seen_waiting
    assert handed[1] - handed[0] < 0.3 + 1.5, "the waiting change got a second debounce of 2 s"
