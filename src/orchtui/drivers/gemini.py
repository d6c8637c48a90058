"""Gemini CLI: screen patterns for status, its recorded chat for usage, resume by id.

Checked against the real Gemini CLI 0.61.0 offline (tests/test_real_gemini.py). It
names each project folder in `~/.gemini/projects.json` (absolute path → short name) and
records each chat as JSON lines in `~/.gemini/tmp/<short name>/chats/session-*.jsonl`:
a header line with `sessionId`, one line per message, and `{"$set": {...}}` lines that
update the header or replace `messages`. Replies (`type: "gemini"`) carry `model` and
`tokens` {input, output, cached, thoughts, tool, total}, where `input` includes
`cached`. Older releases wrote one JSON file per chat under the sha256 of the project
path; both are read. `gemini --resume <id>` resumes a chat.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from orchtui.drivers.base import Driver, SessionFiles, TranscriptRead, UsageRecord, iso_time, jsonl


def chats_folders(files: SessionFiles) -> list[Path]:
    base = files.home / ".gemini"
    folders = []
    try:
        names = json.loads((base / "projects.json").read_text(encoding="utf-8")).get("projects", {})
        short = names.get(str(files.worktree)) if isinstance(names, dict) else None
        if isinstance(short, str) and short and "/" not in short and short not in (".", ".."):
            folders.append(base / "tmp" / short / "chats")
    except (OSError, ValueError, AttributeError):
        pass
    folders.append(base / "tmp" / hashlib.sha256(str(files.worktree).encode()).hexdigest() / "chats")
    return folders


class GeminiDriver(Driver):
    name = "gemini"

    def launch(self, files: SessionFiles, resume: str | None) -> tuple[list[str], dict[str, str]]:
        return (["--resume", resume] if resume else []), {}

    def can_resume(self) -> bool:
        return True

    def transcript(self, files: SessionFiles, known: Path | None, conversation_id: str | None) -> Path | None:
        if known is not None:
            return known
        for folder in chats_folders(files):
            if not folder.is_dir():
                continue
            chats = [*folder.glob("session-*.jsonl"), *folder.glob("session-*.json")]
            recent = [p for p in chats if p.stat().st_mtime >= files.started_at - 1]
            if conversation_id:
                recent = [p for p in recent if conversation_id[:8] in p.name] or recent
            if recent:
                return max(recent, key=lambda p: p.stat().st_mtime)
        return None

    def read(self, path: Path, offset: int, files: SessionFiles) -> TranscriptRead:
        if path.suffix == ".jsonl":
            lines, end = jsonl(path, offset)
            result = TranscriptRead(offset=end)
            for _pos, line in lines:
                update = line.get("$set")
                if isinstance(update, dict):
                    _messages(update.get("messages"), files, result)
                    continue
                if isinstance(line.get("sessionId"), str):
                    result.conversation_id = line["sessionId"]
                _messages([line], files, result)
            return result
        # older releases: the whole chat as one JSON file, rewritten each time
        try:
            chat = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return TranscriptRead(offset=offset)
        result = TranscriptRead(offset=0)
        if isinstance(chat, dict):
            if isinstance(chat.get("sessionId"), str):
                result.conversation_id = chat["sessionId"]
            _messages(chat.get("messages"), files, result)
        return result


def _messages(messages: Any, files: SessionFiles, result: TranscriptRead) -> None:
    """Usage records of the replies among `messages`, keyed by message id (a chat
    rewritten by `$set` never counts a reply twice)."""
    for message in messages if isinstance(messages, list) else []:
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


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0
