"""Themes are TOML files in `themes/`: Textual colours plus a colour and glyph per status."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.theme import Theme

from orchtui.errors import ConfigError
from orchtui.inputs import parse_toml
from orchtui.paths import shipped

STATUS_FALLBACK = {"color": "#8a8a8a", "glyph": "·"}


@dataclass(frozen=True)
class LoadedTheme:
    theme: Theme
    status: dict[str, dict[str, str]]

    def glyph(self, status: str) -> tuple[str, str]:
        entry = self.status.get(status, STATUS_FALLBACK)
        return entry.get("glyph", "·"), entry.get("color", "#8a8a8a")


def load_theme(name: str = "orchtui", folder: Path | None = None) -> LoadedTheme:
    path = (folder or shipped("themes")) / f"{name}.toml"
    data = parse_toml(path)
    colors = dict(data.get("colors", {}))
    if "primary" not in colors:
        raise ConfigError(f"{path}: colors.primary: required")
    theme = Theme(name=str(data.get("name", name)), dark=bool(data.get("dark", True)), **colors)
    return LoadedTheme(theme, dict(data.get("status", {})))
