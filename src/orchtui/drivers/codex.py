"""Codex CLI: screen patterns for status, its rollout transcript for usage and the
conversation id, `codex resume <id>` for an exact resume.

Codex has hooks (`~/.codex/hooks.json`), but it runs a hook only after the user has
reviewed and trusted it, and the one switch that skips the review would also run every
untrusted hook of the user's. orchtui does not bypass that review, so status comes
from the screen (patterns in profiles/codex.toml, tested on real captures) and the
transcript, which Codex always writes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from orchtui.drivers.base import Driver, SessionFiles, TranscriptRead, UsageRecord, iso_time, jsonl


def codex_home(files: SessionFiles) -> Path:
    env = os.environ.get("CODEX_HOME")
    return Path(env) if env else files.home / ".codex"


class CodexDriver(Driver):
    name = "codex"

    def __init__(self) -> None:
        self._model: dict[Path, str] = {}  # the model named last in each transcript

    def launch(self, files: SessionFiles, resume: str | None) -> tuple[list[str], dict[str, str]]:
        return (["resume", resume] if resume else []), {}

    def can_resume(self) -> bool:
        return True

    def fork(self, source: SessionFiles, conversation_id: str, worktree: Path) -> list[str] | None:
        """Codex keeps conversations in its own home, not per folder: `codex fork ID`
        starts a copy of one under a new id, wherever it runs."""
        return ["fork", conversation_id] if self.transcript(source, None, conversation_id) else None

    def transcript(self, files: SessionFiles, known: Path | None, conversation_id: str | None) -> Path | None:
        if known is not None:
            return known
        sessions = codex_home(files) / "sessions"
        if not sessions.is_dir():
            return None
        if conversation_id:
            found = sorted(sessions.glob(f"*/*/*/rollout-*-{conversation_id}.jsonl"))
            if found:
                return found[-1]
        # A new session: the newest rollout started in this worktree after the launch.
        candidates = sorted(
            (p for p in sessions.glob("*/*/*/rollout-*.jsonl") if p.stat().st_mtime >= files.started_at - 1),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        for path in candidates:
            meta = _meta(path)
            if meta and Path(str(meta.get("cwd", ""))) == files.worktree:
                return path
        return None

    def read(self, path: Path, offset: int, files: SessionFiles) -> TranscriptRead:
        lines, end = jsonl(path, offset)
        result = TranscriptRead(offset=end)
        model = self._model.get(path, "codex")
        for _pos, record in lines:
            payload = record.get("payload")
            if not isinstance(payload, dict):
                continue
            kind = record.get("type")
            if kind == "session_meta" and payload.get("id"):
                result.conversation_id = str(payload["id"])
            elif kind == "turn_context" and payload.get("model"):
                model = str(payload["model"])
            elif kind == "event_msg" and payload.get("type") == "token_count":
                info = payload.get("info")
                if not isinstance(info, dict):
                    continue
                last, total = info.get("last_token_usage"), info.get("total_token_usage")
                if not isinstance(last, dict) or not isinstance(total, dict):
                    continue
                cached = _int(last.get("cached_input_tokens"))
                result.records.append(
                    UsageRecord(
                        # the running total identifies a call: a repeated count is not a new call
                        key=f"total:{_int(total.get('total_tokens'))}",
                        at=iso_time(record.get("timestamp"), files.started_at),
                        model=model,
                        input_tokens=_int(last.get("input_tokens")) - cached,  # OpenAI counts cached inside
                        output_tokens=_int(last.get("output_tokens")),
                        cache_read=cached,
                        cache_write=_int(last.get("cache_write_input_tokens")),
                    )
                )
        self._model[path] = model
        return result


def _meta(path: Path) -> dict[str, Any] | None:
    lines, _ = _first(path)
    for _pos, record in lines[:3]:
        if record.get("type") == "session_meta" and isinstance(record.get("payload"), dict):
            payload: dict[str, Any] = record["payload"]
            return payload
    return None


def _first(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], int]:
    """The first line only: session_meta comes first and can be long (instructions)."""
    with path.open("rb") as fh:
        line = fh.readline()
    try:
        obj = json.loads(line)
    except ValueError:
        return [], 0
    return ([(0, obj)] if isinstance(obj, dict) else []), len(line)


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0
