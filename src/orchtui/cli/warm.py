"""The warm CLI process: the verbs imported once, a fork per command (see cli/forward.py).

The engine starts it beside itself (`python -m orchtui.cli.warm`) and it ends when the
engine does (its parent changes) or when orchtui's code on disk changes. It listens on
ORCHTUI_HOME/run/cli.sock, a socket only its own user may use (checked with
SO_PEERCRED). Each connection is forked: the child takes the caller's terminal,
directory, environment and arguments, runs the verb like `orchtui` would, and writes
back its exit code. It stays single-threaded, so forking it is safe.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import os
import signal
import socket
import struct
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from orchtui.cli.forward import SOCKET_NAME, STALE, STARTED
from orchtui.cli.main import VERBS
from orchtui.config import load_config
from orchtui.services.context import Context
from orchtui.services.dashboard import DashboardSource
from orchtui.store.db import ready_for_fork

PACKAGE = Path(__file__).resolve().parent.parent
CHECK_EVERY = 5.0  # seconds between looks at the parent and the code on disk


def fingerprint() -> int:
    """Changes whenever a module of the installed orchtui does."""
    return max((p.stat().st_mtime_ns for p in PACKAGE.rglob("*.py")), default=0)


def main(home: str) -> int:
    for spec in sorted(set(VERBS.values())):  # what the verbs need, imported once here
        importlib.import_module(f"orchtui.cli.{spec.split(':')[0]}")
    importlib.import_module("orchtui.ui.app")  # and the dashboard (Textual)
    _ready_store()
    code = fingerprint()
    parent = os.getppid()
    run = Path(home) / "run"
    path = run / SOCKET_NAME
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    temp = run / f".{SOCKET_NAME}.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
    old_mask = os.umask(0o177)
    try:
        server.bind(str(temp))
    finally:
        os.umask(old_mask)
    server.listen(64)
    os.replace(temp, path)
    mine = path.stat().st_ino
    server.settimeout(CHECK_EVERY)
    signal.signal(signal.SIGCHLD, _reap)
    signal.signal(signal.SIGTERM, _leave)
    try:
        while os.getppid() == parent:
            try:
                conn, _addr = server.accept()
            except TimeoutError:
                if fingerprint() != code:
                    return 0
                continue
            if not _same_user(conn) or fingerprint() != code:
                with contextlib.suppress(OSError):
                    conn.sendall(STALE)
                conn.close()
                if fingerprint() != code:
                    return 0
                continue
            if os.fork() == 0:
                server.close()
                _serve(conn)  # never returns
            conn.close()
    finally:
        with contextlib.suppress(OSError):
            if path.stat().st_ino == mine:  # not yet replaced by a newer warm process
                path.unlink()
    return 0


def _ready_store() -> None:
    """The store's statements that the dashboard's first snapshot and `session list` run,
    compiled once here rather than in every child (store/db.py, ready_for_fork)."""
    try:
        ctx = Context(load_config(Path.cwd()))
        source = DashboardSource(ctx)
        source.wanted = set()  # no git: the store's statements only
        source.reselect(source.snapshot(None), None)
        ctx.records.sessions(live_only=True)
        ready_for_fork(ctx.store)
    except Exception as exc:  # a bad configuration or store is the verb's to report, in its child
        logging.getLogger("orchtui.warm").debug("store not readied: %s", exc)


def _same_user(conn: socket.socket) -> bool:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return bool(uid == os.getuid())


def _reap(_signum: int, _frame: FrameType | None) -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def _leave(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def _serve(conn: socket.socket) -> None:
    """In the forked child: become the caller's `orchtui` process, run the verb, report."""
    code = 70
    try:
        for sig in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        header = _receive(conn)
        os.chdir(str(header["cwd"]))
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in dict(header["env"]).items()})
        sys.argv = ["orchtui", *(str(a) for a in header["argv"])]
        _own_stdio()
        conn.sendall(STARTED)
        threading.Thread(target=_signals_from, args=(conn,), daemon=True).start()
        code = _run()
    except BaseException:  # whatever happened, the caller gets a code
        code = 70
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        with contextlib.suppress(OSError):
            conn.sendall(f"{code}\n".encode())
        os._exit(code)


def _receive(conn: socket.socket) -> dict[str, Any]:
    data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, 3)
    if len(fds) != 3:
        raise OSError("expected the caller's stdin, stdout and stderr")
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    while len(data) < 4:
        data += conn.recv(1 << 16)
    (size,) = struct.unpack("!I", data[:4])
    body = data[4:]
    while len(body) < size:
        more = conn.recv(1 << 16)
        if not more:
            raise OSError("the caller went away")
        body += more
    header: dict[str, Any] = json.loads(body[:size].decode("utf-8", errors="surrogateescape"))
    return header


def _own_stdio() -> None:
    """Text streams over the caller's descriptors, buffered as a fresh process's are."""
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8", errors="surrogateescape")
    sys.stdout = io.TextIOWrapper(
        io.FileIO(1, "w", closefd=False),
        encoding="utf-8",
        errors="surrogateescape",
        line_buffering=os.isatty(1),
    )
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace", line_buffering=True
    )
    # the originals too: Textual's driver and shutil.get_terminal_size read those (the warm
    # process's own were its log or nothing)
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr  # type: ignore[misc]


def _signals_from(conn: socket.socket) -> None:
    """The caller's Ctrl-C (and SIGTERM, SIGHUP) arrive as lines: raise them here."""
    for line in conn.makefile("rb"):
        name = line.strip().decode(errors="replace")
        if name in ("SIGINT", "SIGTERM", "SIGHUP"):  # each ends the verb as Ctrl-C does (exit 130)
            os.kill(os.getpid(), signal.SIGINT)
        elif name == "SIGWINCH":  # the caller's terminal was resized: the dashboard redraws
            os.kill(os.getpid(), signal.SIGWINCH)


def _run() -> int:
    from orchtui.cli.main import main as cli_main

    try:
        cli_main()
    except SystemExit as exc:
        if exc.code is None:
            return 0
        if isinstance(exc.code, int):
            return exc.code
        print(exc.code, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
