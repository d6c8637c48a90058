"""Following one agent session: its log bytes, its screen, its status.

The engine calls `read_new()` when inotify reports the session's log changed; only
the new bytes are read and only this session is re-evaluated.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from orchtui.drivers.base import SessionFiles
from orchtui.engine.sight import Shot
from orchtui.profiles import AgentProfile
from orchtui.screen.classify import Verdict, classify
from orchtui.screen.vt import VirtualScreen, strip_ansi
from orchtui.tail import read_from

MARKER_TAIL = 512  # bytes kept between reads so a marker split across two reads is still seen
# A program's own status report (OSC 7501: state=idle|working|done|blocked|error|clear, with
# more `key=value` fields after colons). Codex CLI sends one as its turn changes state.
PROGRAM_STATUS = re.compile(rb"\x1b\]7501;([^\x07\x1b]{0,400})(?:\x07|\x1b\\)")
PROGRAM_STATUS_START = b"\x1b]7501;"


@dataclass
class Monitor:
    session_id: str
    profile: AgentProfile
    log_file: Path
    pane_id: str
    status: str
    pane_pid: int | None = None  # the launcher's pid: a late "died" of an earlier launch is not ours
    offset: int = 0  # bytes of output read since the session's launch, across rotations
    base: int = 0  # bytes of that output rotated out of log_file (see engine/logcap.py)
    cols: int = 200
    rows: int = 50
    screen: VirtualScreen = field(init=False)
    markers_seen: int = 0
    markers_acted: int = 0  # markers the engine has already acted on
    conversation_id: str | None = None
    dead_since: float | None = None  # tmux showed the pane dead without an exit status yet
    last_output: float = field(default_factory=time.time)
    stuck_reported: bool = False
    generation: int = 0  # bumps on every screen change; delivery waits on it
    # structured signals (engine/signals.py)
    files: SessionFiles | None = None
    hooked: bool = False  # the agent reports status through hooks; they outrank the screen
    hook_offset: int = 0
    transcript: Path | None = None
    transcript_offset: int = 0
    last_error: str | None = None
    # truth about turns (engine/turns.py): what happened since the last Enter
    status_seq: int = 0  # bumps on every status change
    turn_seen: bool = False  # the agent was busy, or printed a completion marker, since the last submit
    turn_news: bool = False  # turn_seen just became true from the output stream (engine.evaluate)
    wait_drawn: bool = True  # a hook's wait ends by the screen only once the screen showed the wait
    screen_state: str | None = None  # what the screen alone says now (hooks may outrank it)
    rejected: bool = False  # the operator rejected a permission; the turn's stop is not an error
    retry_since: float | None = None  # the screen shows the agent retrying an API error since then
    retry_line: str = ""
    retry_reported: bool = False
    submitted_at: float = 0.0  # the latest prompt-submit hook event's time (crash recovery)
    error_check: asyncio.TimerHandle | None = None  # an error on screen, looked at again once it settled
    frame_check: asyncio.TimerHandle | None = None  # a synchronized update still open, looked at later
    prompted: bool = False  # a prompt was pasted since this monitor began (the agent's first waits)
    awaiting_exit_code: bool = False  # exited by its screen or a hook; the pane has not died yet
    replaying: bool = False  # resumed a conversation: until its first turn, its screen shows old turns
    reported_error: bool = False  # the agent reported an error, and no new turn since (OSC 7501)
    reported_at: float = 0.0  # when it did
    _tail: str = ""
    _report_tail: bytes = b""
    _changed: asyncio.Event | None = field(init=False, default=None)
    _marker: re.Pattern[str] | None = field(init=False, default=None)
    _extra: list[re.Pattern[str]] = field(init=False, default_factory=list)
    _retrying: re.Pattern[str] | None = field(init=False, default=None)
    _turn_output: re.Pattern[str] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.screen = VirtualScreen(self.cols, self.rows)
        if self.profile.completion_marker:
            self._marker = re.compile(self.profile.completion_marker, re.MULTILINE)
        if self.profile.retrying:
            self._retrying = re.compile(self.profile.retrying)
        if self.profile.turn_output:
            self._turn_output = re.compile(self.profile.turn_output, re.MULTILINE)

    def change_event(self) -> asyncio.Event:
        """Set by the engine whenever this session's screen or status changed."""
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def notify(self) -> None:
        if self._changed is not None:
            self._changed.set()

    def read_new(self) -> bytes:
        data = read_from(self.log_file, self.offset - self.base)
        if data:
            self.feed(data)
        return data

    def reseed(self, shot: Shot) -> None:
        """The screen as tmux captured it (in a worker, a moment ago), then the output read
        since: the log bytes between the capture and what was read are replayed onto it."""
        self.screen.seed(shot.capture.lines, shot.capture.cursor_x, shot.capture.cursor_y)
        read = self.offset - self.base
        if shot.logged < read:
            with self.log_file.open("rb") as fh:
                fh.seek(shot.logged)
                self.screen.feed(fh.read(read - shot.logged))
        self.generation += 1

    def feed(self, data: bytes) -> None:
        """Output that follows what was read so far."""
        self.last_output = time.time()
        self.stuck_reported = False
        self.offset += len(data)
        self.screen.feed(data)
        self.generation += 1
        self.scan_markers(data)
        self.scan_reports(data)

    def _markers(self) -> list[re.Pattern[str]]:
        return ([self._marker] if self._marker is not None else []) + self._extra

    def markers_since(self, offset: int) -> int:
        """Completion markers in the log from byte `offset` to what was read so far."""
        start = max(offset, self.base)  # what was rotated out is not looked at again
        text = strip_ansi(read_from(self.log_file, start - self.base)[: max(0, self.offset - start)])
        return sum(1 for pattern in self._markers() for _ in pattern.finditer(text))

    def scan_markers(self, data: bytes) -> int:
        """Count completion markers in the stream (not the screen, so none is counted twice),
        and note output that only a turn prints (the profile's `turn_output`)."""
        patterns = self._markers()
        if not patterns and self._turn_output is None:
            return 0
        text = self._tail + strip_ansi(data)
        cut = len(self._tail)
        found = sum(1 for pattern in patterns for m in pattern.finditer(text) if m.end() > cut)
        if self._turn_output is not None and any(m.end() > cut for m in self._turn_output.finditer(text)):
            self.turn_news = not self.turn_seen
            self.turn_seen = True
        self._tail = text[-MARKER_TAIL:]
        self.markers_seen += found
        return found

    def scan_reports(self, data: bytes) -> None:
        """Note the agent's own status reports: an `error` holds until it reports work again
        or a new prompt is submitted (a report split across two reads is still seen)."""
        text = self._report_tail + data
        end = 0
        for match in PROGRAM_STATUS.finditer(text):
            end = match.end()
            fields = dict(
                part.partition("=")[::2] for part in match.group(1).decode(errors="replace").split(":")
            )
            state = fields.get("state")
            if state == "error":
                self.reported_error, self.reported_at = True, time.time()
            elif state in ("working", "blocked"):
                self.reported_error = False
        start = text.rfind(PROGRAM_STATUS_START, end)
        self._report_tail = text[start:][-512:] if start >= 0 else text[-(len(PROGRAM_STATUS_START) - 1) :]

    def add_marker(self, regex: str) -> None:
        if all(p.pattern != regex for p in self._extra):
            self._extra.append(re.compile(regex, re.MULTILINE))

    def skip_to_end(self) -> None:
        try:
            self.offset = self.base + self.log_file.stat().st_size
        except FileNotFoundError:
            self.offset = self.base

    def screen_error(self) -> str | None:
        """The line on screen that shows the agent's last error: one its profile's error
        rules match, else the last line printed (an exit usually ends with the why)."""
        lines = [line.strip() for line in self.screen.lines() if line.strip()]
        rules = [re.compile(p.regex, re.MULTILINE) for p in self.profile.patterns if p.state == "error"]
        for line in reversed(lines):
            if any(rule.search(line) for rule in rules):
                return line[:200]
        if self.verdict().state in ("idle", "working", "waiting"):
            return None  # the screen shows the agent's own UI, not a why
        return lines[-1][:200] if lines else None

    def retrying(self) -> str | None:
        """The agent's API-error retry line, when the bottom of its screen shows one."""
        if self._retrying is None:
            return None
        lines = [line.strip() for line in self.screen.lines() if line.strip()][-8:]
        return next((line[:160] for line in reversed(lines) if self._retrying.search(line)), None)

    def verdict(self) -> Verdict:
        return classify(self.screen.lines(), self.profile)
