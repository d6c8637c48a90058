"""Keeping a pane log within its cap: past `[tmux] log_cap_mb` the log is renamed to
`<id>.log.1` (replacing the previous one) and tmux's pipe is pointed at a new log in
the same server command that closes the old one, so no byte is dropped on disk. The
engine's offsets count output since launch; `<id>.base` records how much of it was
rotated out, so a restarted engine reads the new log where it left off."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from orchtui.paths import StatePaths
from orchtui.tail import read_from

if TYPE_CHECKING:  # the CLI imports this module for set_aside/remove, without the screen
    from orchtui.engine.monitor import Monitor
    from orchtui.runtime.tmux import Tmux


def due(monitor: Monitor, cap_bytes: int) -> bool:
    return monitor.offset - monitor.base >= cap_bytes


def rotate(monitor: Monitor, tmux: Tmux, state: StatePaths) -> None:
    """Start a new log for the session; what the old writer still flushes is read from
    the rotated part before the base moves on."""
    old = state.rotated_log(monitor.session_id)
    os.replace(monitor.log_file, old)
    tmux.pipe_to(monitor.pane_id, monitor.log_file, replace=True)
    late = read_from(old, monitor.offset - monitor.base)
    if late:
        monitor.feed(late)
    monitor.base = monitor.offset
    write_base(state, monitor.session_id, monitor.base)


def write_base(state: StatePaths, session_id: str, base: int) -> None:
    path = state.log_base(session_id)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(str(base))
    os.replace(tmp, path)


def read_base(state: StatePaths, session_id: str) -> int:
    try:
        return max(0, int(state.log_base(session_id).read_text().strip() or 0))
    except (FileNotFoundError, ValueError):
        return 0


def remove(state: StatePaths, session_id: str) -> int:
    """Delete every log file of the session (its cleanup); how many there were."""
    removed = 0
    for path in state.session_logs(session_id):
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def set_aside(state: StatePaths, session_id: str, stamp: int) -> None:
    """A relaunch starts a new log at offset 0; the old one (and its rotated part) is
    kept under the launch's time until the session's cleanup."""
    for path, name in (
        (state.log_file(session_id), f"{session_id}.{stamp}.log"),
        (state.rotated_log(session_id), f"{session_id}.{stamp}.log.1"),
    ):
        if path.exists():
            path.rename(path.with_name(name))
    state.log_base(session_id).unlink(missing_ok=True)
