"""The real dashboard with timestamps added, for bench/dashboard.py and bench/diff.py:
when a key event reaches the app, when each frame has been written to the terminal, and
when the diff view first shows its complete file list and its first file's diff."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from textual import events

from orchtui.config import load_config
from orchtui.engine import collector
from orchtui.services.context import Context
from orchtui.ui.app import OrchtuiApp, textual_settings

UNTIMED = bool(os.environ.get("BENCH_UNTIMED"))


class TimedApp(OrchtuiApp):
    def __init__(self, *args: object, out: Path, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.out = out
        self.marks: list[tuple[str, float]] = []
        self._seen: set[float] = set()
        self._diff_marks: set[str] = set()
        self.key_names: list[str] = []
        self._rows_shown = False  # a snapshot with sessions was applied; its frame is the first row

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and event.time not in self._seen:  # a key bubbles up once more
            self._seen.add(event.time)
            self.marks.append(("key", time.perf_counter()))
            self.key_names.append(event.key)
        await super().on_event(event)

    def _apply(self, snap: Any) -> None:
        super()._apply(snap)
        if snap.sessions and not self._rows_shown:
            self._rows_shown = True

    def post_display_hook(self) -> None:
        if UNTIMED:
            return
        now = time.perf_counter()
        self.marks.append(("frame", now))
        if self._rows_shown and not any(k == "first-row-wall" for k, _t in self.marks):
            self.marks.append(("first-row-wall", time.time()))  # wall clock: the bench times from the launch
        screen = self.screen
        diff = sys.modules.get("orchtui.ui.diff")  # imported once the diff view opened
        if diff is not None and isinstance(screen, diff.DiffScreen):  # bench/diff.py: list, first diff
            if screen.loaded and "diff-list" not in self._diff_marks:
                self._diff_marks.add("diff-list")
                self.marks.append(("diff-list", now))
            if screen.diffs and "diff-first" not in self._diff_marks:
                self._diff_marks.add("diff-first")
                self.marks.append(("diff-first", now))

    def on_mount(self) -> None:
        super().on_mount()
        self.set_timer(0.5, lambda: (self.out.with_suffix(".ready")).write_text("ready"))

    def on_load(self) -> None:
        if os.environ.get("BENCH_TRACEMALLOC"):  # where the memory goes: top growth after minute 2
            self._trace_memory(Path(os.environ["BENCH_TRACEMALLOC"]))
        if os.environ.get("BENCH_DEBUG"):  # garbage collections of the oldest generation, timed
            collector.watch(lambda held_ms, _freed: self.marks.append(("gc2", held_ms / 1000)))

    def _trace_memory(self, path: Path) -> None:
        import tracemalloc

        tracemalloc.start(8)
        first: list[tracemalloc.Snapshot] = []

        def sample() -> None:
            snap = tracemalloc.take_snapshot().filter_traces(
                [tracemalloc.Filter(False, tracemalloc.__file__)]
            )
            if not first:
                first.append(snap)
                return
            top = snap.compare_to(first[0], "traceback")[:15]
            traced = tracemalloc.get_traced_memory()[0] / 2**20
            lines = [f"{time.strftime('%H:%M:%S')} traced {traced:.1f} MB"]
            for stat in top:
                lines.append(f"{stat.size_diff / 1024:+.0f} KiB {stat.count_diff:+d}")
                lines.extend("    " + line for line in stat.traceback.format()[-8:])
            path.write_text("\n".join(lines) + "\n")

        self.set_interval(120, sample)  # the first at minute 2 is the baseline

    def on_unmount(self) -> None:
        self.out.write_text(json.dumps(self.marks))
        self.out.with_suffix(".keys").write_text(json.dumps(self.key_names))


def main() -> None:
    out = Path(sys.argv[1])
    repo = Path.cwd()
    ctx = Context(load_config(repo))
    textual_settings()  # as `orchtui` sets them
    app = TimedApp(ctx, repo, out=out)
    if os.environ.get("BENCH_PROFILE"):  # cProfile of the UI thread, for finding a slow key
        import cProfile

        cProfile.runctx("app.run()", globals(), {"app": app}, os.environ["BENCH_PROFILE"])
    else:
        app.run()


if __name__ == "__main__":
    main()
