"""The command line: every engine feature, headless and scriptable."""

import sys


def main() -> None:
    """`orchtui`: a verb goes to the warm CLI process when one answers (cli/forward.py),
    else it runs here."""
    from orchtui.cli.forward import forward

    code = forward(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from orchtui.cli.main import main as run_here

    run_here()


__all__ = ["main"]
