"""A session's pane log files: the live log, its rotated part, and the `<id>.base` count
of bytes rotated out (engine/logcap.py rotates them); set aside on a relaunch, removed
with the session."""

from __future__ import annotations

import os

from orchtui.paths import StatePaths


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
