"""The quick way into a CLI verb: hand it to the warm CLI process (cli/warm.py).

Importing the store, git and the verbs takes most of a second; the warm process, which
the engine keeps beside it, has done that once. It forks for each verb and runs it with
this process's arguments, directory, environment and terminal (stdin, stdout and
stderr are passed as file descriptors), then reports the exit code. Ctrl-C here is
passed on. Kept to the standard library (and platformdirs) so it starts at once.

The dashboard (`orchtui` alone) goes there too: Textual and the store are imported
already, so its first rows show in a fraction of the time. A resize here is passed on
(SIGWINCH), and the terminal's modes are put back afterwards whatever happened.

When no warm process answers, or it refuses (its code is older than the installed
one), the verb runs here as usual. `session attach`, `demo`, `agent` and the engine's
own verbs always run here.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import sys
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import Any

SOCKET_NAME = "cli.sock"  # in ORCHTUI_HOME/run
VERBS = {
    "artifact",
    "session",
    "ledger",
    "events",
    "runs",
    "approvals",
    "approve",
    "reject",
    "resume",
    "pause",
    "cancel",
    "plan",
    "report",
    "wait",
    "commit",
    "merge",
    "worktree",
    "skills",
    "doctor",
    "hosts",
}
LOCAL = {("session", "attach")}  # the terminal is taken over: run here
STARTED = b"started\n"
STALE = b"stale\n"
LOST = 70  # the warm process died while running the verb


def socket_path() -> Path:
    home = os.environ.get("ORCHTUI_HOME")
    if home:
        return Path(home).expanduser().resolve() / "run" / SOCKET_NAME
    import platformdirs

    return Path(platformdirs.user_state_dir("orchtui")).resolve() / "run" / SOCKET_NAME


def eligible(argv: list[str]) -> bool:
    if os.environ.get("ORCHTUI_NO_WARM"):
        return False
    if not argv:
        return True  # the dashboard: Textual is imported there already
    words = [a for a in argv if not a.startswith("-")]
    if not words or words[0] not in VERBS:
        return False
    return tuple(words[:2]) not in LOCAL


def _terminal_state() -> list[Any] | None:
    """The terminal's modes, to put back should the dashboard end without doing so."""
    if not os.isatty(0):
        return None
    import termios

    try:
        return termios.tcgetattr(0)
    except termios.error:
        return None


def _restore_terminal(saved: list[Any] | None) -> None:
    if saved is None:
        return
    import termios

    with contextlib.suppress(termios.error, OSError):
        termios.tcsetattr(0, termios.TCSADRAIN, saved)


def frame(header: Mapping[str, object]) -> bytes:
    body = json.dumps(header).encode("utf-8", errors="surrogateescape")
    return struct.pack("!I", len(body)) + body


def forward(argv: list[str]) -> int | None:
    """The verb's exit code, or None when it must run here."""
    if not eligible(argv):
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(socket_path()))
        header = {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}
        socket.send_fds(conn, [frame(header)], [0, 1, 2])
        reply = conn.makefile("rb")
        first = reply.readline()
    except OSError:
        conn.close()
        return None
    if first != STARTED:  # refused (stale) or gone before starting: nothing ran
        conn.close()
        return None

    def pass_on(signum: int, _frame: FrameType | None) -> None:
        try:
            conn.sendall(f"{signal.Signals(signum).name}\n".encode())
        except OSError:
            pass

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGWINCH):
        signal.signal(sig, pass_on)  # SIGWINCH: the terminal was resized (the dashboard redraws)
    saved = _terminal_state()
    try:
        last = reply.readline()
    except OSError:
        last = b""
    finally:
        _restore_terminal(saved)
    if not last.strip().lstrip(b"-").isdigit():
        print(
            "orchtui: error: internal error: the warm CLI process ended during the command", file=sys.stderr
        )
        return LOST
    return int(last)
