"""Being woken by file changes in a few directories (not recursive), at no cost while
nothing changes.

On Linux this is inotify (inotify_simple): its descriptor sits in the event loop's
selector, or a blocking read waits on it, so an idle engine, dashboard or `orchtui wait`
wakes for nothing. watchfiles, the fallback elsewhere, wakes every `step` ms to look
(2.8 % of a core at a 2 ms step, 1.2 % at 50 ms, measured on this 2-core machine).
When the kernel's queue overflows, every file in the directories is reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

try:
    from inotify_simple import INotify, flags
except ImportError:  # pragma: no cover - not Linux
    INotify = None

MASK = 0
if INotify is not None:
    MASK = flags.CREATE | flags.MODIFY | flags.CLOSE_WRITE | flags.MOVED_TO | flags.DELETE | flags.ATTRIB


class _Inotify:
    def __init__(self, dirs: Iterable[Path]) -> None:
        assert INotify is not None
        self.fd = INotify(nonblocking=True)
        self.dirs: dict[int, Path] = {}
        try:
            for path in dirs:
                self.dirs[self.fd.add_watch(str(path), MASK)] = Path(path)
        except OSError:
            self.fd.close()
            raise

    def fileno(self) -> int:
        return int(self.fd.fileno())

    def read(self, timeout_ms: int | None = 0) -> set[Path]:
        found: set[Path] = set()
        for event in self.fd.read(timeout=timeout_ms):
            if event.mask & flags.Q_OVERFLOW:
                return self.everything()
            parent = self.dirs.get(event.wd)
            if parent is not None and event.name:
                found.add(parent / event.name)
        return found

    def everything(self) -> set[Path]:
        found: set[Path] = set()
        for parent in self.dirs.values():
            with contextlib.suppress(OSError):
                found.update(parent / name for name in os.listdir(parent))
        return found

    def close(self) -> None:
        self.fd.close()


def _inotify(dirs: Iterable[Path], use_inotify: bool) -> _Inotify | None:
    if not use_inotify or INotify is None:
        return None
    try:
        return _Inotify(dirs)
    except OSError:  # no inotify here, or out of watches: watchfiles looks instead
        return None


class Backlog:
    """Changes the watcher has seen and not handed out yet: other work on the loop can
    let them go first (engine/followups.py)."""

    def __init__(self) -> None:
        self.paths: set[Path] = set()

    def __bool__(self) -> bool:
        return bool(self.paths)


async def changes(
    dirs: list[Path],
    debounce_ms: int,
    stop: asyncio.Event,
    step_ms: int = 50,
    use_inotify: bool = True,
    on_ready: Callable[[], None] | None = None,
    backlog: Backlog | None = None,
) -> AsyncIterator[set[Path]]:
    """Sets of changed paths, each gathered over `debounce_ms` after the first change,
    until `stop` is set. Changes that came while the last set was handled are handed out
    at once: they have waited that long already. `on_ready` runs once the watch is in
    place: what it reads then is either read by it or reported afterwards, never missed
    in between. `backlog`: where the changes not handed out yet are kept."""
    watcher = _inotify(dirs, use_inotify)
    if watcher is None:
        from watchfiles import awatch

        if on_ready is not None:
            on_ready()

        async for found in awatch(
            *dirs, debounce=debounce_ms, step=step_ms, stop_event=stop, recursive=False, rust_timeout=5000
        ):
            yield {Path(path) for _change, path in found}
        return
    loop = asyncio.get_running_loop()
    ready = asyncio.Event()
    pending = (Backlog() if backlog is None else backlog).paths  # (an empty Backlog is falsy)

    def readable() -> None:
        pending.update(watcher.read(0))
        if pending:
            ready.set()

    loop.add_reader(watcher.fileno(), readable)
    if on_ready is not None:
        on_ready()
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while not stop.is_set():
            pending.update(watcher.read(0))  # what came while the last set was handled
            if pending:
                await asyncio.sleep(0)  # the loop's other ready work goes first, once
            else:
                woken = asyncio.ensure_future(ready.wait())
                await asyncio.wait({woken, stopping}, return_when=asyncio.FIRST_COMPLETED)
                woken.cancel()
                if stop.is_set():
                    return
                await asyncio.sleep(debounce_ms / 1000)  # the rest of a burst comes with it
            ready.clear()
            batch = set(pending)
            pending.clear()
            if batch:
                yield batch
    finally:
        stopping.cancel()
        loop.remove_reader(watcher.fileno())
        watcher.close()


def changes_sync(
    dirs: list[Path],
    timeout_ms: int,
    keep: Callable[[Path], bool] = lambda _path: True,
    use_inotify: bool = True,
) -> Iterator[set[Path]]:
    """Blocking: sets of changed paths that `keep` accepts; an empty set after
    `timeout_ms` without one. Endless: the caller stops iterating."""
    watcher = _inotify(dirs, use_inotify)
    if watcher is None:
        from watchfiles import watch

        def accept(_change: Any, path: str) -> bool:
            return keep(Path(path))

        for found in watch(
            *dirs,
            watch_filter=accept,
            debounce=20,
            step=5,
            rust_timeout=timeout_ms,
            yield_on_timeout=True,
            recursive=False,
            raise_interrupt=False,
        ):
            yield {Path(path) for _change, path in found}
        return
    try:
        while True:
            yield {path for path in watcher.read(timeout_ms) if keep(path)}
    finally:
        watcher.close()
