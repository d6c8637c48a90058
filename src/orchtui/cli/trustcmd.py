"""`orchtui trust [PATH]`: let a repository's own .orchtui.toml run what it asks for."""

from __future__ import annotations

from pathlib import Path

import click

from orchtui import trust as trusting
from orchtui.cli.app import App, json_option, pass_app
from orchtui.cli.output import emit_json


@click.command("trust")
@click.argument("path", required=False, type=click.Path(path_type=Path, exists=True))
@json_option
@pass_app
def trust(app: App, path: Path | None, as_json: bool) -> None:
    """Trust what a repository asks orchtui to run, as it is now. PATH (default: here) is a
    repository: its .orchtui.toml (setup command, events hook, merge checks, profile
    folders) and every file under its .orchtui/ (project skills' scripts, profiles); or one
    file, such as a playbook with command gates. A changed file needs trusting again."""
    granted = trusting.grant(path or Path.cwd(), trusting.home())
    if as_json:
        emit_json({"files": granted.files, "settings": granted.settings})
        return
    for name, entry in granted.files.items():
        click.echo(f"trusted {name} (sha256 {entry['sha256'][:12]}…)")
    for setting, value in granted.settings.items():
        click.echo(f"  it may run {setting}: {value}")
