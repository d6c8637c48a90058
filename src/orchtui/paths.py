"""Where orchtui keeps its own state. `ORCHTUI_HOME` relocates all of it."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP = "orchtui"


def default_home() -> Path:
    env = os.environ.get("ORCHTUI_HOME")
    if env:
        return Path(env).expanduser().resolve()
    return Path(platformdirs.user_state_dir(APP)).resolve()


def user_config_file() -> Path:
    env = os.environ.get("ORCHTUI_CONFIG")
    if env:
        return Path(env).expanduser()
    if os.environ.get("ORCHTUI_HOME"):
        return default_home() / "config.toml"
    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def default_socket_name(home: Path) -> str:
    """A dedicated socket, never the user's default tmux server.

    The default home gets the plain name `orchtui`; a relocated home gets its own
    socket so two homes never share hooks or windows.
    """
    env = os.environ.get("ORCHTUI_HOME")
    if not env:
        return APP
    digest = hashlib.sha1(str(home).encode()).hexdigest()[:8]
    return f"{APP}-{digest}"


@dataclass(frozen=True)
class StatePaths:
    home: Path

    @property
    def db_file(self) -> Path:
        return self.home / "orchtui.db"

    @property
    def logs(self) -> Path:
        """One append-only output log per agent session (tmux pipe-pane)."""
        return self.home / "logs"

    @property
    def events(self) -> Path:
        """Drop-box for signals from outside the engine (tmux hooks, agent hooks)."""
        return self.home / "events"

    @property
    def run(self) -> Path:
        """Engine lock, pid and wake-up file."""
        return self.home / "run"

    @property
    def sessions(self) -> Path:
        """Per-session private files (transcripts, scratch)."""
        return self.home / "sessions"

    @property
    def worktrees(self) -> Path:
        return self.home / "worktrees"

    @property
    def engine_log(self) -> Path:
        return self.home / "engine.log"

    @property
    def tmux_conf(self) -> Path:
        return self.home / "tmux.conf"

    @property
    def wake_file(self) -> Path:
        return self.run / "wake"

    @property
    def tmux_events(self) -> Path:
        return self.events / "tmux.events"

    def session_dir(self, session_id: str) -> Path:
        return self.sessions / session_id

    def log_file(self, session_id: str) -> Path:
        return self.logs / f"{session_id}.log"

    def rotated_log(self, session_id: str) -> Path:
        """The previous part of a pane log that grew past its cap (see engine/logcap.py)."""
        return self.logs / f"{session_id}.log.1"

    def log_base(self, session_id: str) -> Path:
        """How many bytes of the session's output were rotated out of its log (a number)."""
        return self.logs / f"{session_id}.base"

    def session_logs(self, session_id: str) -> list[Path]:
        """Every file under logs/ that holds the session's output: its log, the rotated
        part, the base, and logs kept from earlier launches."""
        return sorted(self.logs.glob(f"{session_id}.*"))

    def hook_file(self, session_id: str) -> Path:
        """Where an agent's own hooks drop their events (see runtime/hookdrop.py)."""
        return self.events / f"hooks-{session_id}.jsonl"

    def ensure(self) -> None:
        """orchtui's folders, readable by the operator only: pane logs hold what agents
        printed, secrets included (the live view needs the bytes as they were)."""
        for d in (self.home, self.logs, self.events, self.run, self.sessions):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
            if d.stat().st_mode & 0o077:
                d.chmod(0o700)


def shipped(name: str) -> Path:
    """A top-level data folder shipped with orchtui (themes, skills, playbooks): the
    repository's own in a checkout, else the copy packaged inside the wheel."""
    package = Path(__file__).resolve().parent
    for candidate in (package.parent.parent / name, package / "_data" / name):
        if candidate.is_dir():
            return candidate
    return package / "_data" / name


def find_repo_config(start: Path) -> Path | None:
    """The repository's own `.orchtui.toml`: the nearest one from `start` up to the work tree's root."""
    for folder in (start, *start.parents):
        candidate = folder / ".orchtui.toml"
        if candidate.is_file():
            return candidate
        if (folder / ".git").exists():
            return None
    return None
