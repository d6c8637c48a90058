"""Gemini CLI: screen patterns for status, its recorded chat for usage, resume by id.

Written from Gemini CLI's documentation and source, not from a live client: no
captured screens or transcripts of it exist in this project (docs/agent-profiles.md
says so). Gemini CLI records each chat as one JSON file,
`~/.gemini/tmp/<sha256 of the project root>/chats/session-*.json`, with a `sessionId`
and `messages`; its replies (`type: "gemini"`) carry `model` and `tokens`
{input, output, cached, thoughts, tool, total}. `gemini --resume <id>` resumes one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from orchtui.drivers.base import Driver, SessionFiles, TranscriptRead, UsageRecord, iso_time


def chats_folder(files: SessionFiles) -> Path:
    digest = hashlib.sha256(str(files.worktree).encode()).hexdigest()
    return files.home / ".gemini" / "tmp" / digest / "chats"


class GeminiDriver(Driver):
    name = "gemini"

    def launch(self, files: SessionFiles, resume: str | None) -> tuple[list[str], dict[str, str]]:
        return (["--resume", resume] if resume else []), {}

    def can_resume(self) -> bool:
        return True

    def transcript(self, files: SessionFiles, known: Path | None, conversation_id: str | None) -> Path | None:
        if known is not None:
            return known
        folder = chats_folder(files)
        if not folder.is_dir():
            return None
        recent = [p for p in folder.glob("session-*.json") if p.stat().st_mtime >= files.started_at - 1]
        return max(recent, key=lambda p: p.stat().st_mtime) if recent else None

    def read(self, path: Path, offset: int, files: SessionFiles) -> TranscriptRead:
        """The whole file each time (it is rewritten, not appended); records are keyed
        by message id, so nothing counts twice."""
        try:
            chat = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return TranscriptRead(offset=offset)
        result = TranscriptRead(offset=0)
        if not isinstance(chat, dict):
            return result
        if isinstance(chat.get("sessionId"), str):
            result.conversation_id = chat["sessionId"]
        for message in chat.get("messages") or []:
            if not isinstance(message, dict) or message.get("type") != "gemini":
                continue
            tokens = message.get("tokens")
            if not isinstance(tokens, dict):
                continue
            cached = _int(tokens.get("cached"))
            result.records.append(
                UsageRecord(
                    key=str(message.get("id")),
                    at=iso_time(message.get("timestamp"), files.started_at),
                    model=str(message.get("model", "gemini")),
                    input_tokens=_int(tokens.get("input")) - cached,
                    output_tokens=_int(tokens.get("output")) + _int(tokens.get("thoughts")),
                    cache_read=cached,
                )
            )
        return result


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0
