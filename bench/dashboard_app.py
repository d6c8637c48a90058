"""The real dashboard with two timestamps added, for bench/dashboard.py: when a key
event reaches the app and when each frame has been written to the terminal."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from textual import events

from orchtui.config import load_config
from orchtui.engine.context import Context
from orchtui.ui.app import OrchtuiApp


class TimedApp(OrchtuiApp):
    def __init__(self, *args: object, out: Path, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.out = out
        self.marks: list[tuple[str, float]] = []
        self._seen: set[float] = set()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and event.time not in self._seen:  # a key bubbles up once more
            self._seen.add(event.time)
            self.marks.append(("key", time.perf_counter()))
        await super().on_event(event)

    def post_display_hook(self) -> None:
        self.marks.append(("frame", time.perf_counter()))

    def on_mount(self) -> None:
        super().on_mount()
        self.set_timer(0.5, lambda: (self.out.with_suffix(".ready")).write_text("ready"))

    def on_unmount(self) -> None:
        self.out.write_text(json.dumps(self.marks))


def main() -> None:
    out = Path(sys.argv[1])
    repo = Path.cwd()
    ctx = Context(load_config(repo))
    TimedApp(ctx, repo, out=out).run()


if __name__ == "__main__":
    main()
