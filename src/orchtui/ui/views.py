"""Full screens that cover the dashboard (the diff view, the skills view).

The dashboard imports them only when one opens (the diff view brings a syntax
highlighter), and knows them by this base class: its own keys step aside while one is
up, and its data refreshes every `refresh_beneath` seconds beneath it.
"""

from __future__ import annotations

from textual.screen import Screen

from orchtui.ui.background import WorkerErrors


class CoveringView(WorkerErrors, Screen[None]):
    refresh_beneath: float = 0.05
