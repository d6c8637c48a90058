"""Start an agent inside its tmux window, once orchtui is listening.

tmux runs `python -m orchtui.runtime.launch SOCKET CHANNEL -- ARGV...` as the window's
command (argv, no shell). The launcher blocks on `tmux wait-for CHANNEL` until orchtui
has attached pipe-pane, so not one byte of the agent's output is missed, then execs the
agent in place: the agent becomes the pane's process and its exit status is the pane's.
Kept free of orchtui imports so it starts fast.
"""

from __future__ import annotations

import os
import subprocess
import sys


def main(args: list[str]) -> int:
    if len(args) < 4 or args[2] != "--":
        print("usage: launch SOCKET CHANNEL -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    socket, channel, argv = args[0], args[1], args[3:]
    try:
        subprocess.run(["tmux", "-L", socket, "wait-for", channel], timeout=30, check=False)
    except subprocess.TimeoutExpired:
        print("orchtui: no go-ahead from orchtui within 30 s; starting anyway", file=sys.stderr)
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        print(f"orchtui: cannot start {argv[0]!r}: {exc.strerror}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
