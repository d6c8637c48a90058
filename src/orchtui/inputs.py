"""Reading the files orchtui is given: config, playbooks, SKILL.md, profiles, themes.

Each is size-capped, decoded as UTF-8 and parsed here, and every way that can fail
(unreadable, too large, bad bytes, bad syntax, nesting deep enough to exhaust the
parser's recursion) becomes one ConfigError line naming the file: never a traceback.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml

from orchtui.errors import ConfigError

MAX_BYTES = 1024 * 1024  # no input file orchtui reads is anywhere near this


def read_input(path: Path, limit: int = MAX_BYTES) -> str:
    try:
        with path.open("rb") as fh:
            raw = fh.read(limit + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > limit:
        raise ConfigError(f"{path}: too large (more than {limit} bytes)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def parse_toml(path: Path, text: str | None = None) -> dict[str, Any]:
    source = read_input(path) if text is None else text
    try:
        return tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {' '.join(str(exc).split())}") from None
    except (RecursionError, MemoryError):
        raise ConfigError(f"{path}: invalid TOML: nested too deeply") from None


def parse_yaml(path: Path, text: str | None = None, first_line: int = 1) -> Any:
    """`first_line`: the file line `text` starts at (front matter starts at line 2)."""
    source = read_input(path) if text is None else text
    try:
        return yaml.safe_load(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + first_line})" if mark is not None else ""
        why = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise ConfigError(f"{path}: invalid YAML{where}: {why}") from None
    except (RecursionError, MemoryError):
        raise ConfigError(f"{path}: invalid YAML: nested too deeply") from None
