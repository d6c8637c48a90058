"""A supervisor: an agent given orchtui's own MCP server, for its session only, so it can
plan, start, instruct and read the other agents under the same rules as everyone (see
docs/mcp.md). The server's configuration is a file in the session's folder; the agent's
driver hands it to the agent (Claude Code: `--mcp-config`), so the user's own settings
are never edited, and a restart finds it again."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from orchtui.errors import UsageError
from orchtui.profiles import AgentProfile

MCP_CONFIG = "orchtui-mcp.json"  # in the session's folder
SERVER_NAME = "orchtui"  # its tools reach the agent as mcp__orchtui__<tool>
# what the server needs of this process's environment: the configuration, never a session's own
READY_ENV = "ORCHTUI_MCP_READY"  # the file the server writes once the agent listed its tools
PASSED_ON = ("ORCHTUI_CONFIG", "ORCHTUI_TMUX_SOCKET", "ORCHTUI_DB_URL", "ORCHTUI_SCRIPTED_SCENARIO")


def check_can_supervise(profile: AgentProfile, supervises: bool) -> None:
    if not supervises:
        raise UsageError(
            f"--supervisor: orchtui cannot give agent {profile.name!r} its MCP server "
            "(it can for claude); use `orchtui mcp` in that agent's own MCP settings"
        )


def write_mcp_config(session_dir: Path, home: Path, repo: Path) -> Path:
    """The MCP configuration that starts `orchtui mcp` for this orchtui home and repository."""
    env = {"ORCHTUI_HOME": str(home), READY_ENV: str(session_dir / "mcp-ready")} | {
        k: v for k, v in os.environ.items() if k in PASSED_ON or (k.startswith("ORCHTUI_") and "__" in k)
    }
    config = {
        "mcpServers": {
            SERVER_NAME: {
                "type": "stdio",
                "command": sys.executable,
                "args": ["-m", "orchtui", "mcp", "--repo", str(repo)],
                "env": env,
            }
        }
    }
    path = session_dir / MCP_CONFIG
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path
