"""Reading what was appended to a file since an offset (logs, transcripts, drop-boxes)."""

from __future__ import annotations

from pathlib import Path


def read_from(path: Path, offset: int) -> bytes:
    """The bytes after `offset`; nothing when the file does not exist (yet)."""
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            return fh.read()
    except FileNotFoundError:
        return b""


def complete_lines(data: bytes) -> bytes:
    """The part of `data` up to its last newline (a writer may be mid-line)."""
    return data[: data.rfind(b"\n") + 1]
