"""The engine process from outside: start it when it is not running, find it, stop it.

One engine runs per ORCHTUI_HOME, guarded by an fcntl lock it holds for its whole life,
so a crash (even kill -9) frees the lock at once and the next start re-adopts every
session from the store and tmux. Any process (the CLI, the dashboard) uses this; the
engine itself is `orchtui.engine.daemon`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from orchtui.config import Config
from orchtui.errors import OrchtuiError
from orchtui.locks import try_lock


def lock_file(config: Config) -> Path:
    return config.state.run / "engine.lock"


def pid_file(config: Config) -> Path:
    return config.state.run / "engine.pid"


def engine_pid(config: Config) -> int | None:
    """The running engine's pid, or None when no engine holds the lock."""
    if try_unlocked(config):
        return None
    try:
        return int(pid_file(config).read_text().strip())
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
    fd = try_lock(lock_file(config))
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
