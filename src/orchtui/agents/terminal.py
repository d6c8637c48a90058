"""What orchtui's own terminal agents share (the scripted test agent and the built-in
agent): raw mode with bracketed paste, the `» ` prompt, a spinner, `[y/n]` questions, and
a JSONL transcript of prompts, states and usage."""

from __future__ import annotations

import json
import os
import select
import sys
import termios
import time
import tty
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

PASTE_START = b"\x1b[200~"
PASTE_END = b"\x1b[201~"
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
PROMPT = "» "


class TerminalAgent:
    def __init__(self, transcript: Path | None, hook_file: Path | None = None) -> None:
        self.transcript = transcript
        self.hook_file = hook_file  # Claude Code's hook event names, one JSON line each
        self.conversation = uuid.uuid4().hex[:12]
        self.buffer = bytearray()
        self.pending = b""
        self.tick = 0
        self.out = sys.stdout.buffer

    # io -------------------------------------------------------------------
    def write(self, text: str) -> None:
        self.out.write(text.replace("\n", "\r\n").encode())
        self.out.flush()

    def record(self, kind: str, **data: Any) -> None:
        if self.transcript is None:
            return
        self.transcript.parent.mkdir(parents=True, exist_ok=True)
        with self.transcript.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"t": time.time(), "type": kind, **data}, ensure_ascii=False) + "\n")

    def hook(self, event: str, **data: Any) -> None:
        if self.hook_file is None:
            return
        line = {"hook_event_name": event, "session_id": self.conversation, "t": f"{time.time():.3f}", **data}
        with self.hook_file.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")

    def read(self, timeout: float | None) -> bytes:
        ready, _, _ = select.select([sys.stdin.fileno()], [], [], timeout)
        if not ready:
            return b""
        data = os.read(sys.stdin.fileno(), 65536)
        if not data:
            raise EOFError
        return data

    # screens --------------------------------------------------------------
    def show_prompt(self) -> None:
        self.write(PROMPT)
        self.record("state", state="idle")

    def spin(self, label: str = "Working… (esc to interrupt)") -> None:
        self.tick += 1
        self.write(f"\r\x1b[2K{SPINNER[self.tick % len(SPINNER)]} {label}")

    def clear_line(self) -> None:
        self.write("\r\x1b[2K")

    def feed_input(self, data: bytes) -> str | None:
        """Collect typed and pasted input; return the prompt when Enter is pressed."""
        while data:
            if data.startswith(PASTE_START):
                rest = data[len(PASTE_START) :]
                while PASTE_END not in rest:
                    rest += self.read(None)
                pasted, data = rest.split(PASTE_END, 1)
                self.buffer += pasted
                self.write(pasted.decode("utf-8", errors="replace").replace("\n", "\n  "))
                continue
            byte, data = data[:1], data[1:]
            if byte == b"\r":
                self.pending = data
                text = self.buffer.decode("utf-8", errors="replace")
                self.buffer.clear()
                if not text.strip():
                    self.write("\n")
                    self.show_prompt()
                    return None
                return text
            if byte == b"\x04":
                raise EOFError
            if byte == b"\x15":  # Ctrl-U: empty the input line
                self.buffer.clear()
                self.write("\r\x1b[2K" + PROMPT)
                continue
            if byte in (b"\x7f", b"\x08"):
                if self.buffer:
                    self.buffer = bytearray(self.buffer.decode("utf-8", "replace")[:-1].encode())
                    self.write("\b \b")
                continue
            if byte == b"\x1b":
                continue
            self.buffer += byte
            self.write(byte.decode("utf-8", errors="ignore"))
        return None

    def next_prompt(self) -> str:
        """Wait until a prompt is typed or pasted and Enter pressed (EOFError on Ctrl-D)."""
        while True:
            data = self.pending or self.read(None)
            self.pending = b""
            prompt = self.feed_input(data)
            if prompt is not None:
                return prompt

    def ask_yes(self, question: str, clear: bool = True) -> bool:
        """A `[y/n]` question on screen; True for y."""
        if clear:
            self.clear_line()
        self.write(f"? {question} [y/n] ")
        self.record("state", state="waiting")
        while True:
            data = self.pending or self.read(None)
            self.pending = b""
            for byte in data:
                key = chr(byte).lower()
                if key in "yn":
                    self.write(key + "\n")
                    self.record("answer", key=key)
                    return key == "y"


def run_in_raw_mode(run: Callable[[], int], leave: Callable[[int], int]) -> int:
    """Run an agent's loop with the terminal in raw mode, restoring it afterwards."""
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd) if os.isatty(fd) else None
    if saved is not None:
        tty.setraw(fd)
    try:
        return run()
    except (EOFError, KeyboardInterrupt):
        return leave(0)
    finally:
        sys.stdout.buffer.write(b"\x1b[?2004l")
        sys.stdout.flush()
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
