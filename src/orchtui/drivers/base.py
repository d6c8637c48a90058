"""What every agent driver can do, and the plain screen-only driver.

A driver turns one agent CLI's structured signals into orchtui's terms: how to launch
it in a worktree (extra arguments, per-session settings), how to resume an exact
conversation, what its hook events mean for status, where its transcript is and what
usage it records. Screen patterns stay data in the profile; the driver adds what a
screen cannot say reliably. A profile names its driver (`driver = "claude"`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from orchtui.tail import complete_lines, read_from


@dataclass(frozen=True)
class SessionFiles:
    """Where one session's files are, as a driver needs them."""

    session_id: str
    worktree: Path
    session_dir: Path
    hook_file: Path
    started_at: float
    home: Path  # the agent's HOME (the engine's, unless the profile overrides it)

    @property
    def mcp_config(self) -> Path | None:
        """orchtui's MCP server for a supervisor (services/supervision.py), else None."""
        path = self.session_dir / "orchtui-mcp.json"
        return path if path.is_file() else None

    @property
    def mcp_ready(self) -> Path:
        """Written by that server once the agent has listed its tools: the agent can use
        them from its next turn. Removed at each launch; delivery waits for it."""
        return self.session_dir / "mcp-ready"


@dataclass(frozen=True)
class UsageRecord:
    """One model call's tokens, as the agent recorded it. `key` is unique per session
    (a message id, a running total) so re-reading a transcript never counts twice."""

    key: str
    at: float
    model: str
    input_tokens: int = 0  # not counting cache reads or writes
    output_tokens: int = 0
    cache_read: int = 0
    cache_write: int = 0


@dataclass
class HookSignal:
    """What one hook event says."""

    event: str
    status: str | None = None
    detail: str = ""
    conversation_id: str | None = None
    transcript: Path | None = None
    read_usage: bool = False  # a turn or tool step ended: the transcript has news


@dataclass
class TranscriptRead:
    records: list[UsageRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # facts worth an event (aider's commits)
    conversation_id: str | None = None
    offset: int = 0


def iso_time(text: Any, default: float) -> float:
    if not isinstance(text, str):
        return default
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return default


def jsonl(path: Path, offset: int) -> tuple[list[tuple[int, dict[str, Any]]], int]:
    """Complete JSON lines from `offset` on, each with its own offset; the new offset."""
    data = complete_lines(read_from(path, offset))
    out: list[tuple[int, dict[str, Any]]] = []
    pos = offset
    for raw in data.splitlines(keepends=True):
        try:
            obj = json.loads(raw)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            out.append((pos, obj))
        pos += len(raw)
    return out, offset + len(data)


class Driver:
    """Screen patterns only: any CLI a profile describes. The scripted test agent's
    JSONL transcript (`{"type": "usage", ...}` lines in the session folder) is read here too."""

    name = "screen"
    hooks = False  # True when the agent reports status through hooks
    supervises = False  # True when launch() can hand the agent orchtui's MCP server (a supervisor)

    def launch(self, files: SessionFiles, resume: str | None) -> tuple[list[str], dict[str, str]]:
        """Extra arguments and environment for a launch (resuming `resume` if given)."""
        return [], {}

    def can_resume(self) -> bool:
        return False

    def fork(self, source: SessionFiles, conversation_id: str, worktree: Path) -> list[str] | None:
        """Make a copy of the conversation `source` had for a new session in `worktree`
        (the same user's): the arguments that resume the copy, or None when this agent
        cannot (the fork then starts a new conversation)."""
        return None

    def saved(self, files: SessionFiles, conversation_id: str) -> bool:
        """The agent has kept the conversation on disk (resuming it can work)."""
        return True

    def on_hook(self, event: dict[str, Any]) -> HookSignal:
        return HookSignal(str(event.get("hook_event_name", "")))

    def transcript(self, files: SessionFiles, known: Path | None, conversation_id: str | None) -> Path | None:
        path = files.session_dir / "transcript.jsonl"
        return path if path.exists() else None

    def read(self, path: Path, offset: int, files: SessionFiles) -> TranscriptRead:
        lines, end = jsonl(path, offset)
        result = TranscriptRead(offset=end)
        for pos, record in lines:
            if record.get("type") != "usage":
                continue
            result.records.append(
                UsageRecord(
                    key=f"{pos}",
                    at=float(record.get("t", files.started_at)),
                    model=str(record.get("model", "scripted")),
                    input_tokens=int(record.get("input_tokens", 0)),
                    output_tokens=int(record.get("output_tokens", 0)),
                    cache_read=int(record.get("cache_read_tokens", 0)),
                    cache_write=int(record.get("cache_write_tokens", 0)),
                )
            )
        return result
