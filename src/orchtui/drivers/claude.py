"""Claude Code: status from its hooks, usage from its JSONL transcript, exact resume.

Hooks are installed per session without touching the user's files: Claude Code's
`--settings FILE` adds one more settings layer for this process only, and hooks from
every layer run, so the user's own `~/.claude/settings.json` (and its hooks) keep
working. Each hook runs `python -m orchtui.runtime.hookdrop FILE`, which drops one line
into the engine's events folder.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from orchtui.drivers.base import (
    Driver,
    HookSignal,
    SessionFiles,
    TranscriptRead,
    UsageRecord,
    iso_time,
    jsonl,
)

HOOK_EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PermissionRequest",
    "Notification",
    "PostToolUse",
    "Stop",
    "StopFailure",
    "SessionEnd",
)


def project_folder(cwd: Path) -> str:
    """Claude Code's folder name for a project: the path with / . _ as -."""
    return "".join("-" if ch in "/._" else ch for ch in str(cwd))


class ClaudeDriver(Driver):
    name = "claude"
    hooks = True
    supervises = True

    def settings(self, files: SessionFiles) -> dict[str, Any]:
        command = shlex.join([sys.executable, "-m", "orchtui.runtime.hookdrop", str(files.hook_file)])
        hook = {"type": "command", "command": command, "timeout": 10}
        settings: dict[str, Any] = {"hooks": {event: [{"hooks": [hook]}] for event in HOOK_EVENTS}}
        if files.mcp_config is not None:  # a supervisor uses orchtui's tools without asking each time:
            settings["permissions"] = {"allow": ["mcp__orchtui"]}  # they are governed on orchtui's side
        return settings

    def launch(self, files: SessionFiles, resume: str | None) -> tuple[list[str], dict[str, str]]:
        path = files.session_dir / "claude-settings.json"
        path.write_text(json.dumps(self.settings(files), indent=2), encoding="utf-8")
        args = ["--settings", str(path)]
        if files.mcp_config is not None:  # this session's MCP server, beside the user's own
            args += ["--mcp-config", str(files.mcp_config)]
            files.mcp_ready.unlink(missing_ok=True)  # this launch's server writes it again
        if resume:
            args += ["--resume", resume]
        return args, {}

    def can_resume(self) -> bool:
        return True

    def fork(self, source: SessionFiles, conversation_id: str, worktree: Path) -> list[str] | None:
        """Claude Code keeps a conversation under its project folder (the working
        directory): the transcript is copied to the new worktree's folder, and
        `--resume ID --fork-session` continues a copy under a new id there."""
        found = self.transcript(source, None, conversation_id)
        if found is None:
            return None
        folder = source.home / ".claude" / "projects" / project_folder(worktree)
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(found, folder / found.name)
        return ["--resume", conversation_id, "--fork-session"]

    def on_hook(self, event: dict[str, Any]) -> HookSignal:
        name = str(event.get("hook_event_name", ""))
        signal = HookSignal(name, conversation_id=_str(event.get("session_id")))
        transcript = _str(event.get("transcript_path"))
        signal.transcript = Path(transcript) if transcript else None
        if name == "SessionStart":
            signal.status, signal.detail = "idle", f"session {event.get('source', 'start')}"
        elif name == "UserPromptSubmit":
            signal.status, signal.detail = "working", "prompt submitted"
        elif name in ("PreToolUse", "PostToolUse"):
            signal.status = "working"
            signal.detail = (
                f"{event.get('tool_name', 'tool')} {'started' if name == 'PreToolUse' else 'done'}"
            )
            signal.read_usage = name == "PostToolUse"
        elif name == "PermissionRequest":
            what = _str(event.get("what"))
            signal.status = "waiting"
            signal.detail = f"permission: {event.get('tool_name', 'a tool')}" + (f" `{what}`" if what else "")
        elif name == "Notification" and event.get("notification_type") == "permission_prompt":
            signal.status, signal.detail = "waiting", "asks permission"
        elif name == "Stop":
            signal.status, signal.detail, signal.read_usage = "idle", "turn ended", True
        elif name == "StopFailure":
            why = _str(event.get("message")) or _str(event.get("error")) or "turn failed"
            signal.status, signal.detail, signal.read_usage = "error", why, True
        elif name == "SessionEnd":
            signal.status, signal.detail = "exited", f"session ended ({event.get('reason', 'unknown')})"
            signal.read_usage = True
        return signal

    def saved(self, files: SessionFiles, conversation_id: str) -> bool:
        """Claude Code writes the conversation's JSONL as it goes; a window killed before
        the first write leaves nothing, and `--resume` would end with "No conversation found"."""
        return self.transcript(files, None, conversation_id) is not None

    def transcript(self, files: SessionFiles, known: Path | None, conversation_id: str | None) -> Path | None:
        if known is not None:
            return known
        if conversation_id:
            guess = (
                files.home
                / ".claude"
                / "projects"
                / project_folder(files.worktree)
                / f"{conversation_id}.jsonl"
            )
            return guess if guess.exists() else None
        return None

    def read(self, path: Path, offset: int, files: SessionFiles) -> TranscriptRead:
        lines, end = jsonl(path, offset)
        result = TranscriptRead(offset=end)
        for _pos, record in lines:
            if record.get("type") != "assistant":
                continue
            message = record.get("message")
            if not isinstance(message, dict):
                continue
            usage, model = message.get("usage"), str(message.get("model", ""))
            if not isinstance(usage, dict) or model.startswith("<"):  # "<synthetic>": no model call
                continue
            # One API message can span several transcript lines (one per content block),
            # each repeating the same usage: the message id keys it once.
            key = str(message.get("id") or record.get("requestId") or record.get("uuid"))
            result.records.append(
                UsageRecord(
                    key=key,
                    at=iso_time(record.get("timestamp"), files.started_at),
                    model=model,
                    input_tokens=_int(usage.get("input_tokens")),
                    output_tokens=_int(usage.get("output_tokens")),
                    cache_read=_int(usage.get("cache_read_input_tokens")),
                    cache_write=_int(usage.get("cache_creation_input_tokens")),
                )
            )
            if record.get("sessionId"):
                result.conversation_id = str(record["sessionId"])
        return result


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0
