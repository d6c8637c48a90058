"""Token usage an agent reported in its transcript, read incrementally.

For now the scripted agent's JSONL transcript (`usage` records); the real agents'
transcripts join with their drivers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from orchtui.tail import complete_lines, read_from


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    # (timestamp, input + output) per record, for spend-over-time charts
    points: list[tuple[float, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


class UsageReader:
    """Remembers how far each transcript was read; each call reads only new lines."""

    def __init__(self) -> None:
        self._offsets: dict[Path, int] = {}
        self._usage: dict[Path, Usage] = {}

    def read(self, transcript: Path) -> Usage:
        usage = self._usage.setdefault(transcript, Usage())
        offset = self._offsets.get(transcript, 0)
        complete = complete_lines(read_from(transcript, offset))
        self._offsets[transcript] = offset + len(complete)
        for line in complete.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("type") != "usage":
                continue
            tokens_in = int(record.get("input_tokens", 0))
            tokens_out = int(record.get("output_tokens", 0))
            usage.input_tokens += tokens_in
            usage.output_tokens += tokens_out
            usage.points.append((float(record.get("t", 0.0)), tokens_in + tokens_out))
        return usage
