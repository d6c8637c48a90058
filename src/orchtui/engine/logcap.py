"""Keeping a pane log within its cap: past `[tmux] log_cap_mb` the log is renamed to
`<id>.log.1` (replacing the previous one) and tmux's pipe is pointed at a new log in
the same server command that closes the old one, so no byte is dropped on disk. The
engine's offsets count output since launch; `<id>.base` records how much of it was
rotated out, so a restarted engine reads the new log where it left off."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from orchtui.paths import StatePaths
from orchtui.services.pane_logs import write_base
from orchtui.tail import read_from

if TYPE_CHECKING:
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
