"""The engine as a background process: one per ORCHTUI_HOME, guarded by a lock.

CLI verbs start it when it is not running. It holds an fcntl lock for its whole
life, so a crash (even kill -9) frees the lock at once and the next start re-adopts
every session from the store and tmux.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from orchtui.config import Config
from orchtui.engine.context import Context
from orchtui.errors import OrchtuiError
from orchtui.locks import try_lock
from orchtui.redact import redact


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def _lock_file(config: Config) -> Path:
    return config.state.run / "engine.lock"


def _pid_file(config: Config) -> Path:
    return config.state.run / "engine.pid"


def engine_pid(config: Config) -> int | None:
    """The running engine's pid, or None when no engine holds the lock."""
    if try_unlocked(config):
        return None
    try:
        return int(_pid_file(config).read_text().strip())
    except (OSError, ValueError):
        return None


def ensure_running(config: Config, cwd: Path | None = None, timeout: float = 15.0) -> int:
    pid = engine_pid(config)
    if pid is not None:
        return pid
    state = config.state
    state.ensure()
    env = {**os.environ, "ORCHTUI_HOME": str(config.home)}
    if config.tmux.socket:
        env["ORCHTUI_TMUX_SOCKET"] = config.tmux.socket
    if config.store.url:
        env["ORCHTUI_DB_URL"] = config.store.url

    def spawn() -> subprocess.Popen[bytes]:
        with state.engine_log.open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "orchtui", "engine", "run"],
                cwd=cwd or Path.cwd(),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )

    proc = spawn()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        pid = engine_pid(config)
        if pid is not None:
            return pid
        if proc.poll() is not None:
            # it found the lock held, by an engine that was still on its way out (or one
            # that is starting and has not written its pid yet): start again if none is left
            time.sleep(0.2)
            if engine_pid(config) is None and try_unlocked(config):
                proc = spawn()
        time.sleep(0.05)
    raise OrchtuiError(f"the engine did not start within {timeout:.0f}s; see {state.engine_log}")


def try_unlocked(config: Config) -> bool:
    """No process holds the engine lock now."""
    fd = try_lock(_lock_file(config))
    if fd is None:
        return False
    os.close(fd)
    return True


def stop(config: Config, timeout: float = 10.0) -> int | None:
    pid = engine_pid(config)
    if pid is None:
        return None
    os.kill(pid, signal.SIGTERM)
    end = time.monotonic() + timeout
    while time.monotonic() < end and engine_pid(config) is not None:
        time.sleep(0.05)
    return pid


def run_foreground(config: Config) -> int:
    """Run the engine in this process until SIGTERM/SIGINT. Returns an exit code."""
    state = config.state
    state.ensure()
    fd = try_lock(_lock_file(config))
    if fd is None:
        print(f"orchtui: an engine is already running (pid {engine_pid(config)})", file=sys.stderr)
        return 0
    _pid_file(config).write_text(str(os.getpid()))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("orchtui")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    ctx = Context(config)

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
