"""One long-lived tmux control-mode client (`tmux -C`) for the engine's frequent commands.

A key press or a paste costs the engine a line written to this client instead of a new
tmux client process (fork, exec, connect: the largest share of a burst of deliveries).
Commands are written as one line each and tmux answers each with a `%begin … %end` (or
`%error`) block, in order; notifications between blocks are skipped. The client attaches
with `ignore-size,no-output`: it never sizes a window and pane output is not sent to it.

Only words made of the characters in `SAFE` are sent this way (pane ids, buffer names,
key names, flags): nothing in them means anything to tmux's command parser. Anything
else, and every command while the client is not connected, goes through a tmux process
as before. Agent text passes only as `literal()` makes it: one double-quoted argument in
which every byte but a letter or a digit is an octal escape (`\\ooo`), so no byte of it
can end the argument, start another command, or expand a variable or a home folder;
tmux turns the escapes back into the same bytes. Text with a NUL byte (which a tmux
argument cannot hold) or longer than `LITERAL_MAX` is loaded from stdin instead.
"""

from __future__ import annotations

import collections
import contextlib
import re
import subprocess
import tempfile
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import IO

SAFE = re.compile(r"[A-Za-z0-9%@_:.,+/-]+")
LITERAL_MAX = 64 * 1024  # bytes of text sent as an argument; longer text goes through stdin
RETRY_AFTER = 5.0  # seconds before connecting again after a failed or lost connection
REPLY_TIMEOUT = 10.0


class ControlLost(Exception):
    """The client is not connected (or its reply never came): run the command another way."""


Reply = Future[tuple[bool, list[str]]]


class _Connection:
    """One `tmux -C` process and the replies it owes, oldest first."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.pending: collections.deque[Reply] = collections.deque()
        self.lock = threading.Lock()  # the pending queue (the reader thread takes it too)

    def expect(self) -> Reply:
        reply: Reply = Future()
        with self.lock:
            self.pending.append(reply)
        return reply

    def answer(self, result: tuple[bool, list[str]]) -> None:
        with self.lock:
            reply = self.pending.popleft() if self.pending else None
        if reply is not None and not reply.done():
            reply.set_result(result)

    def fail_all(self) -> None:
        with self.lock:
            while self.pending:
                reply = self.pending.popleft()
                if not reply.done():
                    reply.set_exception(ControlLost("control client ended"))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()


class ControlClient:
    def __init__(self, socket_name: str) -> None:
        self.socket_name = socket_name
        self._conn: _Connection | None = None
        self._lock = threading.Lock()  # connecting, and the order commands are written in
        self._failed_at = float("-inf")

    @staticmethod
    def suitable(args: tuple[str, ...]) -> bool:
        return all(SAFE.fullmatch(arg) for arg in args)

    def run(self, args: tuple[str, ...], text: bytes | None = None) -> tuple[bool, list[str]]:
        """(ok, output lines) of one command; ControlLost when it could not be sent.
        `text`: the command's last argument, any bytes (see `literal`)."""
        line = " ".join(args) + ("" if text is None else " " + literal(text))
        with self._lock:
            conn = self._connected()
            reply = conn.expect()
            try:
                assert conn.proc.stdin is not None
                conn.proc.stdin.write((line + "\n").encode())
                conn.proc.stdin.flush()
            except OSError:
                self._lose(conn)
                raise ControlLost("control client gone") from None
        try:
            return reply.result(REPLY_TIMEOUT)
        except FutureTimeout:
            with self._lock:
                self._lose(conn)
            raise ControlLost("no reply from the control client") from None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._lose(self._conn)
            self._failed_at = float("inf")  # closed for good

    # inside the lock ------------------------------------------------------
    def _connected(self) -> _Connection:
        if self._conn is not None and self._conn.proc.poll() is None:
            return self._conn
        if time.monotonic() - self._failed_at < RETRY_AFTER:
            raise ControlLost("control client not connected")
        # what tmux says when it cannot attach, in a file (never full); tmux keeps its own descriptor
        with tempfile.TemporaryFile() as errors:
            return self._attach(errors)

    def _attach(self, errors: IO[bytes]) -> _Connection:
        try:
            proc = subprocess.Popen(
                ["tmux", "-L", self.socket_name, "-C", "attach-session", "-f", "ignore-size,no-output"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                start_new_session=True,
            )
        except OSError:
            self._failed_at = time.monotonic()
            raise ControlLost("tmux could not be started") from None
        conn = _Connection(proc)
        attached = conn.expect()  # the attach command's own reply block
        self._conn = conn
        threading.Thread(target=_read, args=(conn,), name="tmux-control", daemon=True).start()
        lines: list[str] = []
        try:
            ok, lines = attached.result(REPLY_TIMEOUT)
        except FutureTimeout:
            ok, lines = False, [f"no reply within {REPLY_TIMEOUT:.0f}s"]
        except ControlLost:
            ok = False
        if not ok:  # e.g. no session to attach to yet
            self._lose(conn)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(1)
            errors.seek(0)
            said = " ".join([*lines, errors.read(2000).decode(errors="replace")]).split()
            raise ControlLost(f"control client could not attach: {' '.join(said) or 'tmux said nothing'}")
        return conn

    def _lose(self, conn: _Connection) -> None:
        conn.kill()
        conn.fail_all()
        if self._conn is conn:
            self._conn = None
            self._failed_at = time.monotonic()


_ESCAPES = [chr(b) if chr(b).isascii() and chr(b).isalnum() else f"\\{b:03o}" for b in range(256)]


def literal(text: bytes) -> str:
    """`text` as one tmux argument that means nothing but those bytes: double-quoted, with
    every byte that is not an ASCII letter or digit written as an octal escape."""
    if b"\0" in text:
        raise ValueError("a tmux argument cannot hold a NUL byte")
    return '"' + "".join([_ESCAPES[b] for b in text]) + '"'


def _read(conn: _Connection) -> None:
    """The reader thread: reply blocks go to the oldest waiting command, in order."""
    assert conn.proc.stdout is not None
    block: list[str] | None = None
    guard = ""
    for raw in conn.proc.stdout:
        line = raw.decode("utf-8", errors="replace").rstrip("\n")
        if block is None:
            if line.startswith("%begin "):  # %begin <time> <number> <flags>
                block, guard = [], " ".join(line.split()[1:3])
            continue  # a notification
        words = line.split()
        if len(words) >= 3 and words[0] in ("%end", "%error") and " ".join(words[1:3]) == guard:
            conn.answer((words[0] == "%end", block))
            block = None
        else:
            block.append(line)
    conn.proc.wait()
    conn.fail_all()
