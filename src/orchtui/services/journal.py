"""A project's memory across runs: a journal of decisions, review findings, run
summaries and notes, one JSON line per entry in ORCHTUI_HOME/memory/<project>/journal.jsonl
(secrets masked before they are written). Runs add their review findings and a final
summary; people and agents add decisions and notes (`orchtui memory add`); prompts get
the newest entries through `{memory}`, within the playbook's `memory_budget`."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from orchtui.errors import UsageError
from orchtui.redact import redact
from orchtui.services.context import Context
from orchtui.store.tables import Project

KINDS = ("decision", "finding", "summary", "note")
ENTRY_LIMIT = 20_000  # characters kept of one entry


@dataclass(frozen=True)
class Entry:
    at: float
    kind: str
    text: str
    who: str
    run: str | None = None

    def shown(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.at))
        where = f" · run {self.run}" if self.run else ""
        return f"## {self.kind} · {when} · {self.who}{where}\n\n{self.text}"


def folder(ctx: Context, project: Project) -> Path:
    return ctx.config.home / "memory" / project.tmux_session.removeprefix("orchtui-")


def add(ctx: Context, project: Project, kind: str, text: str, who: str, run: str | None = None) -> Entry:
    if kind not in KINDS:
        raise UsageError(f"--kind: {kind!r} is not one of {', '.join(KINDS)}")
    text = redact(text.strip())[:ENTRY_LIMIT]
    if not text:
        raise UsageError("memory: the entry is empty")
    entry = Entry(at=time.time(), kind=kind, text=text, who=who, run=run)
    path = folder(ctx, project) / "journal.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(asdict(entry), ensure_ascii=False) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line)  # one write: a concurrent writer never splits an entry
    finally:
        os.close(fd)
    return entry


def entries(ctx: Context, project: Project, kind: str | None = None) -> list[Entry]:
    """Oldest first; a line that does not read as an entry is skipped."""
    path = folder(ctx, project) / "journal.jsonl"
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    found = []
    for line in lines:
        try:
            raw = json.loads(line)
            entry = Entry(
                at=float(raw["at"]),
                kind=str(raw["kind"]),
                text=str(raw["text"]),
                who=str(raw["who"]),
                run=raw.get("run"),
            )
        except (ValueError, KeyError, TypeError):
            continue
        if kind is None or entry.kind == kind:
            found.append(entry)
    return found


def search(ctx: Context, project: Project, words: str) -> list[Entry]:
    """Entries holding every word (case-insensitive)."""
    wanted = words.casefold().split()
    return [e for e in entries(ctx, project) if all(w in e.text.casefold() for w in wanted)]


def for_prompt(ctx: Context, project: Project, budget: int, before: str = "") -> str:
    """`before` (this run's records) and then the journal, newest first, within `budget`
    characters: whole entries only."""
    parts = [before[-budget:]] if before else []
    used = len(parts[0]) if parts else 0
    earlier = []
    for entry in reversed(entries(ctx, project)):
        text = entry.shown()
        if used + len(text) + 2 > budget:
            break
        earlier.append(text)
        used += len(text) + 2
    if earlier:
        parts.append("# Project memory (earlier runs, newest first)\n\n" + "\n\n".join(earlier))
    return "\n\n".join(parts)
