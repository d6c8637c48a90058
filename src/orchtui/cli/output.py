"""Turning store rows into JSON objects and human tables."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from orchtui.controls import shown_safe
from orchtui.services.as_json import command_json, iso, session_json

__all__ = ["command_json", "emit_json", "iso", "one_line", "session_json", "table"]


def emit_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def table(rows: list[list[str]], headers: list[str]) -> None:
    """Columns of stored text, its terminal control characters shown escaped."""
    rows = [[shown_safe(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    click.echo("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def one_line(text: str, width: int = 48) -> str:
    flat = shown_safe(" ".join(text.split()))
    return flat if len(flat) <= width else flat[: width - 1] + "…"
