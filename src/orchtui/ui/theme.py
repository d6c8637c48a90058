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


COLORS: tuple[str, ...] = ("primary", "secondary", "warning", "error", "success", "accent")
COLORS += ("foreground", "background", "surface", "panel", "boost")


def load_theme(name: str = "orchtui", folder: Path | None = None) -> LoadedTheme:
    path = (folder or shipped("themes")) / f"{name}.toml"
    data = parse_toml(path)
    colors = data.get("colors", {})
    if not isinstance(colors, dict) or "primary" not in colors:
        raise ConfigError(f"{path}: colors.primary: required")
    for key, value in colors.items():
        if key not in COLORS:
            raise ConfigError(f"{path}: colors.{key}: not a theme colour ({', '.join(COLORS)})")
        if not isinstance(value, str):
            raise ConfigError(f'{path}: colors.{key}: a colour is a string such as "#88c0d0"')
    status = data.get("status", {})
    if not isinstance(status, dict) or not all(
        isinstance(v, dict) and all(isinstance(x, str) for x in v.values()) for v in status.values()
    ):
        raise ConfigError(f"{path}: status: a table of {{glyph, color}} strings per status")
    try:
        theme = Theme(name=str(data.get("name", name)), dark=bool(data.get("dark", True)), **colors)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: colors: {' '.join(str(exc).split())}") from None
    return LoadedTheme(theme, dict(status))
