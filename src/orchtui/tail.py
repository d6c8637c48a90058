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


def read_after(path: Path, offset: int) -> tuple[bytes, int]:
    """The bytes after `offset` and the offset after them; a file now shorter than
    `offset` was rotated (replaced by a new one), so it is read from its start."""
    try:
        with path.open("rb") as fh:
            if fh.seek(0, 2) < offset:
                offset = 0
            fh.seek(offset)
            data = fh.read()
    except FileNotFoundError:
        return b"", offset
    return data, offset + len(data)


def last_bytes(paths: list[Path], count: int) -> bytes:
    """The last `count` bytes of the files' contents joined in order (a log and, before
    it, its rotated part)."""
    parts: list[bytes] = []
    for path in reversed(paths):
        if count <= 0:
            break
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            continue
        part = read_from(path, max(0, size - count))
        parts.append(part)
        count -= len(part)
    return b"".join(reversed(parts))


def complete_lines(data: bytes) -> bytes:
    """The part of `data` up to its last newline (a writer may be mid-line)."""
    return data[: data.rfind(b"\n") + 1]
