"""Trust in a repository's own configuration, in the manner of `direnv allow`.

A repository's `.orchtui.toml` can make orchtui run commands: a worktree setup command,
an events hook, the checks a merge needs (command gates), folders of agent profiles
(whose commands orchtui starts). People clone repositories from strangers, so those
settings take effect only after the operator trusted that exact file with
`orchtui trust`: recorded in ORCHTUI_HOME/trust.json with its sha256, who and when. A
changed file is untrusted again. The user's own config and orchtui's shipped files are
trusted; environment variables are the operator's own.

Until then the settings are left out of the configuration and remembered
(`Config.untrusted`), so whatever would run them refuses in one line that names the
file, the setting and how to trust it.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchtui import paths
from orchtui.errors import Untrusted, UsageError
from orchtui.inputs import parse_toml

FILE = "trust.json"
# the settings of a repository's .orchtui.toml that make orchtui run something
EXECUTING = ("worktrees.setup_command", "events.hook", "git.required_checks", "profile_dirs")


def home(env: Mapping[str, str] | None = None) -> Path:
    """Where trust.json lives: ORCHTUI_HOME (from `env`, else the process's), else the default."""
    value = (os.environ if env is None else env).get("ORCHTUI_HOME")
    return Path(value).expanduser().resolve() if value else paths.default_home()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _records(home: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads((home / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def is_trusted(path: Path, home: Path) -> bool:
    entry = _records(home).get(str(path.resolve()))
    try:
        return isinstance(entry, dict) and entry.get("sha256") == digest(path)
    except OSError:
        return False


def record(path: Path, home: Path) -> dict[str, Any]:
    """Trust this exact content of `path` (written atomically, readable by the operator only)."""
    entry = {"sha256": digest(path), "who": getpass.getuser(), "at": time.time()}
    records = _records(home)
    records[str(path.resolve())] = entry
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    temp = home / f".{FILE}.{os.getpid()}"
    temp.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
    temp.chmod(0o600)
    os.replace(temp, home / FILE)
    return entry


def executing(layer: dict[str, Any]) -> dict[str, Any]:
    """The settings of a config layer that would make orchtui run something."""
    found: dict[str, Any] = {}
    for dotted in EXECUTING:
        node: Any = layer
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node:
            found[dotted] = node
    return found


def withhold(layer: dict[str, Any]) -> dict[str, Any]:
    """Remove the executing settings from `layer` (in place); return what was removed."""
    removed = executing(layer)
    for dotted in removed:
        *parents, last = dotted.split(".")
        node: Any = layer
        for part in parents:
            node = node[part]
        with contextlib.suppress(KeyError, TypeError):
            del node[last]
    return removed


def in_repository(path: Path) -> Path | None:
    """The work tree a file or folder lies in (the nearest folder holding `.git`), if any."""
    resolved = path.resolve()
    for folder in (resolved, *resolved.parents):
        if (folder / ".git").exists():
            return folder
    return None


def repository_files(root: Path) -> list[Path]:
    """What `orchtui trust` on a repository covers: its .orchtui.toml and every file under
    .orchtui/ (project skills and their scripts, agent profiles)."""
    found = [root / ".orchtui.toml"] if (root / ".orchtui.toml").is_file() else []
    own = root / ".orchtui"
    if own.is_dir():
        found += sorted(p for p in own.rglob("*") if p.is_file())
    return found


def refuse_unless_trusted(path: Path, what: str) -> None:
    """A file of a repository that would make orchtui run `what`: refused until trusted."""
    if in_repository(path) is not None and not is_trusted(path, home()):
        raise Untrusted(f"{path}: {what} is not trusted: read it, then `orchtui trust {path}`", path)


def refusal(source: str, setting: str, value: Any) -> str:
    shown = value if isinstance(value, str) else json.dumps(value)[:120]
    folder = Path(source).parent
    return (
        f"{source}: {setting} ({shown}) is not trusted: this repository's file asks orchtui to "
        f"run it; read it, then `orchtui trust {folder}`"
    )


@dataclass
class Grant:
    files: dict[str, dict[str, Any]]  # file -> its trust record
    settings: dict[str, Any]  # what the repository's .orchtui.toml may now run


def scope(start: Path) -> tuple[list[Path], dict[str, Any]]:
    """What trusting `start` covers: one file as it is, or a repository's .orchtui.toml
    and .orchtui/ files (with the settings that would run something)."""
    start = start.resolve()
    if start.is_file():
        return [start], executing(parse_toml(start)) if start.name == ".orchtui.toml" else {}
    config = paths.find_repo_config(start)
    root = config.parent if config is not None else in_repository(start)
    if root is None:
        raise UsageError(f"{start}: not inside a git repository")
    files = repository_files(root)
    if not files:
        raise UsageError(f"{root}: no .orchtui.toml and no .orchtui/ folder: nothing to trust")
    return files, executing(parse_toml(config)) if config is not None else {}  # refuses bad TOML


def grant(start: Path, home: Path) -> Grant:
    """Trust what `start` covers (see `scope`), as it is now."""
    files, settings = scope(start)
    return Grant({str(f): record(f, home) for f in files}, settings)
