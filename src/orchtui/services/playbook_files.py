"""Where a playbook named on the command line (or by an MCP client) is found."""

from __future__ import annotations

from pathlib import Path

from orchtui import paths
from orchtui.errors import UsageError


def find_playbook(playbook: str | Path, repo: Path | None) -> Path:
    """A file, or a name looked up in the repository's .orchtui/playbooks/, the user's
    playbooks/ beside the config file, then the playbooks shipped with orchtui."""
    playbook = Path(playbook)
    if playbook.suffix in (".yaml", ".yml"):
        return playbook
    folders = [paths.user_config_file().parent / "playbooks", paths.shipped("playbooks")]
    if repo is not None:
        folders.insert(0, repo / ".orchtui" / "playbooks")
    for folder in folders:
        if (folder / f"{playbook}.yaml").is_file():
            return folder / f"{playbook}.yaml"
    raise UsageError(f"no playbook {str(playbook)!r} (looked in {', '.join(str(f) for f in folders)})")
