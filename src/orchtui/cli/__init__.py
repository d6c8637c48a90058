"""The command line: every engine feature, headless and scriptable."""

from orchtui.cli.main import main

__all__ = ["main"]
