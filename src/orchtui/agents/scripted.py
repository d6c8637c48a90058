"""The scripted agent: a small real program that behaves like a coding-agent TUI.

It puts the terminal in raw mode, asks for bracketed paste, shows an input prompt
(`» `), a working spinner (`Working… (esc to interrupt)`), permission questions
(`[y/n]`), edits files and commits in its cwd, prints a completion marker
(`✔ Done.`) and appends its prompts, states and token usage to a JSONL transcript.
Driven by a scenario file (`--scenario` or `$ORCHTUI_SCRIPTED_SCENARIO`).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import termios
import time
import tty
import uuid
from pathlib import Path
from typing import Any

from orchtui.agents.scenario import Rule, Scenario, Step, load_scenario

PASTE_START = b"\x1b[200~"
PASTE_END = b"\x1b[201~"
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
PROMPT = "» "


class Agent:
    def __init__(self, scenario: Scenario, transcript: Path | None) -> None:
        self.scenario = scenario
        self.transcript = transcript
        self.conversation = uuid.uuid4().hex[:12]
        self.buffer = bytearray()
        self.pending = b""
        self.tick = 0
        self.total_in = 0
        self.total_out = 0
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

    # main loop ------------------------------------------------------------
    def run(self) -> int:
        self.write("\x1b[?2004h")
        self.write(f"Scripted agent · scenario {self.scenario.name} · conversation {self.conversation}\n")
        self.write("Type a prompt and press Enter. Ctrl-D quits.\n\n")
        self.record("start", conversation=self.conversation, cwd=os.getcwd())
        if self.scenario.startup:
            time.sleep(self.scenario.startup)
        self.show_prompt()
        while True:
            data = self.pending or self.read(None)
            self.pending = b""
            prompt = self.feed_input(data)
            if prompt is None:
                continue
            code = self.turn(prompt)
            if code is not None:
                return code

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

    def turn(self, prompt: str) -> int | None:
        self.write("\n")
        self.record("prompt", text=prompt)
        if prompt.strip() == "/exit":
            return self.leave(0)
        rule: Rule = self.scenario.rule_for(prompt)
        self.record("state", state="working")
        self.spin()
        usage: tuple[int, int] | None = None
        for step in rule.steps:
            outcome = self.step(step, prompt)
            if step.usage is not None:
                usage = step.usage
            if outcome == "stop":
                break
            if isinstance(outcome, int):
                return self.leave(outcome)
            if outcome == "fail":
                self.account(prompt, usage)
                self.show_prompt()
                return None
        else:
            self.clear_line()
            self.write("✔ Done.\n")
            self.record("marker", text="✔ Done.")
            self.account(prompt, usage)
            self.show_prompt()
            return None
        self.account(prompt, usage)
        self.show_prompt()
        return None

    def account(self, prompt: str, usage: tuple[int, int] | None) -> None:
        tokens_in, tokens_out = usage or (100 + len(prompt) // 4, 40)
        self.total_in += tokens_in
        self.total_out += tokens_out
        self.record("usage", input_tokens=tokens_in, output_tokens=tokens_out, model="scripted-1")
        self.write(f"Tokens: {tokens_in} in, {tokens_out} out · session {self.total_in + self.total_out}\n")

    def work(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.spin()
            data = self.read(min(0.1, left))
            if b"\x03" in data:
                raise KeyboardInterrupt

    def step(self, step: Step, prompt: str) -> str | int | None:
        first_line = prompt.splitlines()[0] if prompt else ""
        if step.work is not None:
            self.work(step.work)
        if step.hang is not None:
            time.sleep(step.hang)
        if step.say is not None:
            self.clear_line()
            self.write("● " + step.say.replace("{prompt}", first_line) + "\n")
            self.spin()
        if step.stream is not None:
            for i in range(step.stream):
                self.clear_line()
                self.write(f"  streaming line {i + 1}/{step.stream}\n")
                self.spin()
                if step.interval:
                    time.sleep(step.interval)
        if step.write is not None:
            target = (Path.cwd() / step.write).resolve()
            if not target.is_relative_to(Path.cwd().resolve()):
                self.clear_line()
                self.write(f"✖ Error: refusing to write outside the worktree: {step.write}\n")
                return "fail"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(step.content, encoding="utf-8")
            self.clear_line()
            self.write(f"● Wrote {step.write}\n")
            self.spin()
        if step.commit is not None:
            subprocess.run(["git", "add", "-A"], check=False, capture_output=True)
            proc = subprocess.run(
                ["git", "commit", "-q", "-m", step.commit], check=False, capture_output=True
            )
            self.clear_line()
            self.write(f"● Commit {'made' if proc.returncode == 0 else 'skipped'}: {step.commit}\n")
            self.spin()
        if step.git is not None:
            done = subprocess.run(["git", *step.git], check=False, capture_output=True, text=True)
            first = (done.stderr.strip() or done.stdout.strip()).splitlines()[:1] or [""]
            self.clear_line()
            self.write(f"● git {' '.join(step.git)}: exit {done.returncode} {first[0]}\n")
            self.spin()
        if step.ask is not None:
            return self.ask(step.ask)
        if step.fail is not None:
            self.clear_line()
            self.write(f"✖ Error: {step.fail}\n")
            self.record("state", state="error")
            return "fail"
        if step.exit is not None:
            return step.exit
        return None

    def ask(self, question: str) -> str | None:
        self.clear_line()
        self.write(f"? {question} [y/n] ")
        self.record("state", state="waiting")
        while True:
            data = self.read(None)
            for byte in data:
                key = chr(byte).lower()
                if key in "yn":
                    self.write(key + "\n")
                    self.record("answer", key=key)
                    if key == "n":
                        self.write("Stopped: permission denied.\n")
                        return "stop"
                    self.record("state", state="working")
                    self.spin()
                    return None

    def leave(self, code: int) -> int:
        self.clear_line()
        self.write(f"Bye. Resume with: conversation {self.conversation}\n")
        self.record("exit", code=code)
        return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="orchtui-scripted-agent")
    parser.add_argument("--scenario", type=Path, default=None)
    parser.add_argument("--transcript", type=Path, default=None)
    args = parser.parse_args(argv)
    scenario_path = args.scenario or (
        Path(os.environ["ORCHTUI_SCRIPTED_SCENARIO"]) if os.environ.get("ORCHTUI_SCRIPTED_SCENARIO") else None
    )
    agent = Agent(load_scenario(scenario_path), args.transcript)
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd) if os.isatty(fd) else None
    if saved is not None:
        tty.setraw(fd)
    try:
        return agent.run()
    except (EOFError, KeyboardInterrupt):
        return agent.leave(0)
    finally:
        sys.stdout.buffer.write(b"\x1b[?2004l")
        sys.stdout.flush()
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


if __name__ == "__main__":
    sys.exit(main())
