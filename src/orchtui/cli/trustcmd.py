"""`orchtui trust [PATH]`: let a repository's own .orchtui.toml run what it asks for."""

from __future__ import annotations

from pathlib import Path

import click

from orchtui import trust as trusting
from orchtui.cli.app import App, json_option, pass_app
from orchtui.cli.output import emit_json
from orchtui.config import _read_toml, find_repo_config
from orchtui.errors import UsageError


@click.command("trust")
@click.argument("path", required=False, type=click.Path(path_type=Path, exists=True))
@json_option
@pass_app
def trust(app: App, path: Path | None, as_json: bool) -> None:
    """Trust what a repository asks orchtui to run, as it is now. PATH (default: here) is a
    repository: its .orchtui.toml (setup command, events hook, merge checks, profile
    folders) and every file under its .orchtui/ (project skills' scripts, profiles); or one
    file, such as a playbook with command gates. A changed file needs trusting again."""
    start = (path or Path.cwd()).resolve()
    home = trusting.home()
    if start.is_file():
        files, settings = [start], {}
    else:
        config = find_repo_config(start)
        root = config.parent if config is not None else trusting.in_repository(start)
        if root is None:
            raise UsageError(f"{start}: not inside a git repository")
        files = trusting.repository_files(root)
        if not files:
            raise UsageError(f"{root}: no .orchtui.toml and no .orchtui/ folder: nothing to trust")
        settings = trusting.executing(_read_toml(config)) if config is not None else {}  # refuses bad TOML
    entries = {str(f): trusting.record(f, home) for f in files}
    if as_json:
        emit_json({"files": entries, "settings": settings})
        return
    for name, entry in entries.items():
        click.echo(f"trusted {name} (sha256 {entry['sha256'][:12]}…)")
    for setting, value in settings.items():
        click.echo(f"  it may run {setting}: {value}")
