"""What tmux shows of a session's pane, asked in a worker thread so the loop never waits
on tmux: whether the pane is there (and dead), and for a session under way its screen
with the size its log had when the screen was captured (the loop then replays the output
read after that onto the captured screen: see Monitor.reseed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orchtui.domain import SessionStatus
from orchtui.runtime.tmux import Capture, PaneInfo, Tmux
from orchtui.store.tables import AgentSession


@dataclass(frozen=True)
class Shot:
    """A pane's screen, and how many bytes its log file held right after it was taken."""

    capture: Capture
    logged: int


@dataclass(frozen=True)
class Sight:
    pane: PaneInfo | None  # None: no pane of this session (its window is gone)
    shot: Shot | None = None  # None: a new session (read from its first byte) or a dead pane


def is_new(row: AgentSession) -> bool:
    """A session whose output is read from its first byte (nothing read yet), so its
    screen needs no capture."""
    return row.status == SessionStatus.STARTING and row.log_offset == 0


def shoot(tmux: Tmux, pane_id: str, log_file: Path) -> Shot:
    """The pane's screen now, and the log's size just after."""
    capture = tmux.capture(pane_id)
    try:
        logged = log_file.stat().st_size
    except FileNotFoundError:
        logged = 0
    return Shot(capture, logged)


def look(tmux: Tmux, row: AgentSession, panes: dict[str, PaneInfo], log_file: Path) -> Sight:
    """A session being adopted: its pane (a second, current look before calling it gone:
    `panes` may predate its window), its output piped to `log_file`, and, unless it is
    new, its screen."""
    pane = panes.get(row.tmux_pane or "")
    if pane is None or pane.orchtui_session != row.id:
        pane = tmux.panes().get(row.tmux_pane or "")
    if pane is None or pane.orchtui_session != row.id:
        return Sight(None)
    if not pane.piped and not pane.dead:
        tmux.pipe_to(pane.pane_id, log_file)
    if pane.dead or is_new(row):
        return Sight(pane)
    return Sight(pane, shoot(tmux, pane.pane_id, log_file))
