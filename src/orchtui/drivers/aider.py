"""aider: screen patterns for status (it has no hooks), usage and its own commits from
the chat history file it keeps in the worktree (`.aider.chat.history.md`).

aider prints `Tokens: 776 sent, 36 received. Cost: …` after each reply and appends the
same line to its history; it counts tokens itself when the server streams without
usage, and shortens counts over a thousand (`1.2k`), which orchtui reads as it is
written. The commits aider makes on its own (`Commit 60a1ceb …`) become events.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from orchtui.drivers.base import Driver, SessionFiles, TranscriptRead, UsageRecord
from orchtui.tail import complete_lines, read_from

HISTORY = ".aider.chat.history.md"
TOKENS = re.compile(r"^> Tokens: (?P<body>.*?)\. Cost:", re.MULTILINE)
COUNT = re.compile(r"(?P<n>[\d.]+)(?P<k>k?) (?P<what>sent|received|cache hit|cache write)")
MODEL = re.compile(r"^> Model: (\S+)", re.MULTILINE)
COMMIT = re.compile(r"^> Commit ([0-9a-f]{7,40}) (.*?)\s*$", re.MULTILINE)


def count(text: str, k: str) -> int:
    value = float(text)
    return round(value * 1000) if k else int(value)


class AiderDriver(Driver):
    name = "aider"

    def __init__(self) -> None:
        self._model: dict[Path, str] = {}  # the model named last in each history file

    def transcript(self, files: SessionFiles, known: Path | None, conversation_id: str | None) -> Path | None:
        path = files.worktree / HISTORY
        return path if path.exists() else None

    def read(self, path: Path, offset: int, files: SessionFiles) -> TranscriptRead:
        data = complete_lines(read_from(path, offset))
        text = data.decode("utf-8", errors="replace")
        result = TranscriptRead(offset=offset + len(data))
        model = self._model.get(path, "aider")
        events = sorted(
            [(m.start(), "model", m) for m in MODEL.finditer(text)]
            + [(m.start(), "tokens", m) for m in TOKENS.finditer(text)]
            + [(m.start(), "commit", m) for m in COMMIT.finditer(text)],
            key=lambda item: item[0],
        )
        for start, kind, m in events:
            if kind == "model":
                model = m.group(1)
            elif kind == "commit":
                result.notes.append(f"aider committed {m.group(1)}: {m.group(2)}")
            else:
                found = {c["what"]: count(c["n"], c["k"]) for c in COUNT.finditer(m.group("body"))}
                key_offset = offset + len(text[:start].encode())
                result.records.append(
                    UsageRecord(
                        key=f"{key_offset}",
                        at=time.time(),  # aider writes no times; it is read right after the reply
                        model=model,
                        input_tokens=found.get("sent", 0) - found.get("cache hit", 0),
                        output_tokens=found.get("received", 0),
                        cache_read=found.get("cache hit", 0),
                        cache_write=found.get("cache write", 0),
                    )
                )
        self._model[path] = model
        return result
