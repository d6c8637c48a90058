"""The built-in agent's tools, confined to one worktree.

Every path is resolved (symlinks followed) and must stay inside the worktree: `../`,
absolute paths elsewhere and symlinks pointing out are refused. `run_bash` runs in the
worktree with a limited environment (no inherited secrets) and is killed, with its whole
process group, after the timeout (30 s). Outputs are truncated.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

from anthropic.types import ToolParam

OUTPUT_LIMIT = 16 * 1024  # characters of a tool's output given back to the model
READ_LIMIT = 256 * 1024  # bytes of a file read_file returns
LIST_LIMIT = 500  # entries list_files returns
MATCH_LIMIT = 200  # lines search_files returns
BASH_TIMEOUT = 30.0
SAFE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TERM", "TMPDIR", "USER")

TOOLS: list[ToolParam] = [
    {
        "name": "list_files",
        "description": "List files under a folder of the worktree (recursively, .git excluded).",
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
    },
    {
        "name": "read_file",
        "description": "Read a text file of the worktree.",
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    },
    {
        "name": "write_file",
        "description": "Write (create or replace) a text file of the worktree.",
        "input_schema": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
            "required": ["path", "content"],
        },
    },
    {
        "name": "search_files",
        "description": "Search the worktree's text files for a regular expression; returns path:line: text.",
        "input_schema": {
            "type": "object",
            "properties": {"pattern": {"type": "string"}, "path": {"type": "string"}},
            "required": ["pattern"],
        },
    },
    {
        "name": "run_bash",
        "description": "Run a shell command in the worktree (30 s limit; output truncated).",
        "input_schema": {
            "type": "object",
            "properties": {"command": {"type": "string"}},
            "required": ["command"],
        },
    },
]


class ToolError(Exception):
    pass


def truncate(text: str, limit: int = OUTPUT_LIMIT) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… [truncated: {len(text) - limit} more characters]"


class Workspace:
    def __init__(self, root: Path, bash_timeout: float = BASH_TIMEOUT) -> None:
        self.root = root.resolve()
        self.bash_timeout = bash_timeout

    def resolve(self, path: str) -> Path:
        """The real path of `path` inside the worktree, or ToolError."""
        target = (self.root / path).resolve()
        if not target.is_relative_to(self.root):
            raise ToolError(f"{path!r} is outside the worktree; refused")
        return target

    def call(self, name: str, args: dict[str, Any]) -> str:
        handler = getattr(self, f"tool_{name}", None)
        if handler is None:
            raise ToolError(f"no tool {name!r}")
        try:
            return truncate(str(handler(**args)))
        except TypeError as exc:
            raise ToolError(f"{name}: bad arguments: {exc}") from None
        except OSError as exc:
            raise ToolError(f"{name}: {exc.strerror or exc}") from None

    def tool_list_files(self, path: str = ".") -> str:
        base = self.resolve(path)
        found: list[str] = []
        for folder, dirs, files in os.walk(base):
            dirs[:] = sorted(d for d in dirs if d != ".git")
            for name in sorted(files):
                found.append(str((Path(folder) / name).relative_to(self.root)))
                if len(found) >= LIST_LIMIT:
                    return "\n".join(found) + f"\n… [more than {LIST_LIMIT} files]"
        return "\n".join(found) or "(no files)"

    def tool_read_file(self, path: str) -> str:
        data = self.resolve(path).read_bytes()[:READ_LIMIT]
        return data.decode("utf-8", errors="replace")

    def tool_write_file(self, path: str, content: str) -> str:
        target = self.resolve(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            raise ToolError(f"{path!r} is a symbolic link; refused")
        target.write_text(content, encoding="utf-8")
        return f"wrote {target.relative_to(self.root)} ({len(content)} characters)"

    def tool_search_files(self, pattern: str, path: str = ".") -> str:
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ToolError(f"search_files: bad pattern: {exc}") from None
        hits: list[str] = []
        for line in self.tool_list_files(path).splitlines():
            file = self.root / line
            if not file.is_file() or file.stat().st_size > READ_LIMIT:
                continue
            for number, text in enumerate(file.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                if regex.search(text):
                    hits.append(f"{line}:{number}: {text[:200]}")
                    if len(hits) >= MATCH_LIMIT:
                        return "\n".join(hits) + "\n… [more matches]"
        return "\n".join(hits) or "(no matches)"

    def tool_run_bash(self, command: str) -> str:
        env = {k: v for k, v in os.environ.items() if k in SAFE_ENV}
        proc = subprocess.Popen(
            ["bash", "-c", command],
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=self.bash_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            status = f"[killed: the command ran longer than {self.bash_timeout:g}s]"
        else:
            status = f"[exit {proc.returncode}]"
        body = truncate(out).rstrip("\n")
        return f"{body}\n{status}" if body else status
