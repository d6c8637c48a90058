"""The engine process itself: `orchtui engine run` holds the engine lock for its whole
life (see orchtui.services.engine_process, which starts, finds and stops it), runs the
event loop until SIGTERM or SIGINT, and keeps the warm CLI process beside it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys

from orchtui.config import Config
from orchtui.engine import collector
from orchtui.locks import try_lock
from orchtui.redact import redact
from orchtui.services.context import Context
from orchtui.services.engine_process import engine_pid, lock_file, pid_file


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def run_foreground(config: Config) -> int:
    """Run the engine in this process until SIGTERM/SIGINT. Returns an exit code."""
    state = config.state
    state.ensure()
    fd = try_lock(lock_file(config))
    if fd is None:
        print(f"orchtui: an engine is already running (pid {engine_pid(config)})", file=sys.stderr)
        return 0
    pid_file(config).write_text(str(os.getpid()))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("orchtui")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    ctx = Context(config)
    collector.watch()
    # the loop takes the GIL back from a worker thread (tmux replies, pastes) within 1 ms,
    # not the default 5: a status waits less behind the threads at 500 sessions
    sys.setswitchinterval(0.001)

    async def main() -> None:
        stop_event = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop_event.set)
        from orchtui.engine.engine import Engine  # the dashboard and CLI only start it

        await Engine(ctx).run(stop_event)

    warm = _start_warm_cli(config)
    try:
        asyncio.run(main())
    finally:
        if warm is not None:
            warm.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                warm.wait(5)
        ctx.store.close()
        os.close(fd)
    return 0


def _start_warm_cli(config: Config) -> subprocess.Popen[bytes] | None:
    """The warm CLI process (cli/warm.py) that makes verbs answer at once; it ends with
    the engine. ORCHTUI_NO_WARM=1 leaves it out."""
    if os.environ.get("ORCHTUI_NO_WARM"):
        return None
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "orchtui.cli.warm", str(config.state.home)], stdin=subprocess.DEVNULL
        )
    except OSError as exc:
        logging.getLogger("orchtui.engine").warning("no warm CLI process: %s", exc)
        return None
