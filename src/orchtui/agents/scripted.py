"""The scripted agent: a small real program that behaves like a coding-agent TUI.

It puts the terminal in raw mode, asks for bracketed paste, shows an input prompt
(`» `), a working spinner (`Working… (esc to interrupt)`), permission questions
(`[y/n]`), edits files and commits in its cwd, prints a completion marker
(`✔ Done.`) and appends its prompts, states and token usage to a JSONL transcript.
Driven by a scenario file (`--scenario` or `$ORCHTUI_SCRIPTED_SCENARIO`).
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from pathlib import Path

from orchtui.agents.scenario import Rule, Scenario, Step, load_scenario
from orchtui.agents.terminal import PROMPT, TerminalAgent, run_in_raw_mode


class Agent(TerminalAgent):
    def __init__(self, scenario: Scenario, transcript: Path | None, hook_file: Path | None) -> None:
        super().__init__(transcript, hook_file if scenario.hooks else None)
        self.scenario = scenario
        self.total_in = 0
        self.total_out = 0

    # main loop ------------------------------------------------------------
    def run(self) -> int:
        self.write("\x1b[?2004h")
        self.write(f"Scripted agent · scenario {self.scenario.name} · conversation {self.conversation}\n")
        self.write("Type a prompt and press Enter. Ctrl-D quits.\n\n")
        self.record("start", conversation=self.conversation, cwd=os.getcwd())
        self.hook("SessionStart", source="startup")
        if self.scenario.startup:
            time.sleep(self.scenario.startup)
        self.show_prompt()
        while True:
            code = self.turn(self.next_prompt())
            if code is not None:
                return code

    def signal(self, event: str, **data: object) -> None:
        """A hook event; like the real CLIs', it can fire before the screen redraws."""
        self.hook(event, **data)
        if self.hook_file is not None and self.scenario.hook_lead:
            time.sleep(self.scenario.hook_lead)

    def turn(self, prompt: str) -> int | None:
        self.write("\n")
        if self.scenario.turn_delay:  # the input box is redrawn empty before the turn shows
            self.write(PROMPT)
            time.sleep(self.scenario.turn_delay)
            self.clear_line()
        self.record("prompt", text=prompt)
        if prompt.strip() == "/exit":
            return self.leave(0)
        rule: Rule = self.scenario.rule_for(prompt)
        self.signal("UserPromptSubmit")
        self.record("state", state="working")
        self.report("working")
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
                self.report("idle")
                return None
        else:
            self.clear_line()
            self.write("✔ Done.\n")
            self.record("marker", text="✔ Done.")
        self.account(prompt, usage)
        self.signal("Stop")
        self.show_prompt()
        self.report("done")
        return None

    def report(self, state: str, **fields: str) -> None:
        """An OSC 7501 program-status report, when the scenario asks for them."""
        if self.scenario.program_status:
            extra = "".join(f":{key}={value}" for key, value in fields.items())
            self.write(f"\x1b]7501;state={state}:app=scripted{extra}\x1b\\")

    def account(self, prompt: str, usage: tuple[int, int] | None) -> None:
        tokens_in, tokens_out = usage or (100 + len(prompt) // 4, 40)
        self.total_in += tokens_in
        self.total_out += tokens_out
        self.record("usage", input_tokens=tokens_in, output_tokens=tokens_out, model="scripted-1")
        self.write(f"Tokens: {tokens_in} in, {tokens_out} out · session {self.total_in + self.total_out}\n")

    def work(self, seconds: float, label: str = "") -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.spin(f"Working… (esc to interrupt){label.format(left=math.ceil(left))}")
            data = self.read(min(0.1, left))
            if b"\x03" in data:
                raise KeyboardInterrupt

    def api_error(self, step: Step) -> bool:
        """An API error retried with backoff, shown on the spinner line as the real CLIs
        do; True when a retry succeeds."""
        for attempt in range(1, step.retries + 1):
            delay = min(step.backoff * 2 ** (attempt - 1), 8.0)
            label = (
                f" · API error {step.api_error} · Retrying in {{left}}s · attempt {attempt}/{step.retries}"
            )
            self.work(delay, label)
        return step.recover

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
        if step.flash is not None:
            self.clear_line()
            self.write(step.flash + "\n")
            time.sleep(step.flash_for)
            self.write("\x1b[1A\x1b[2K")  # up one line and erase it
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
        if step.run is not None:
            done = subprocess.run(step.run, check=False, capture_output=True, text=True)
            first = (done.stdout.strip() or done.stderr.strip()).splitlines()[:1] or [""]
            self.clear_line()
            self.write(f"● ran {step.run[0]}: exit {done.returncode} {first[0]}\n")
            self.spin()
        if step.ask is not None:
            return self.ask(step.ask)
        if step.api_error is not None and not self.api_error(step):
            return self.error(f"API Error: {step.api_error} after {step.retries} retries")
        if step.fail is not None:
            return self.error(step.fail)
        if step.exit is not None:
            return step.exit
        return None

    def error(self, message: str) -> str:
        self.report("error")
        if self.scenario.late_error:  # Codex: back at its prompt first, the error a frame later
            self.clear_line()
            self.show_prompt()
            time.sleep(self.scenario.late_error)
        self.clear_line()
        self.write(f"✖ Error: {message}\n")
        self.record("state", state="error")
        self.signal("StopFailure", error=message)
        return "fail"

    def ask(self, question: str) -> str | None:
        self.signal("PermissionRequest", tool_name="Write", what=question)
        self.report("blocked", kind="permission")
        if self.scenario.stale_spinner:
            self.write("\n")  # the dialog opens below the spinner, which stays on screen
        if not self.ask_yes(question, clear=not self.scenario.stale_spinner):
            self.write("Stopped: permission denied.\n")
            return "stop"
        self.signal("PostToolUse", tool_name="Write")
        self.record("state", state="working")
        self.report("working")
        self.spin()
        return None

    def leave(self, code: int) -> int:
        self.clear_line()
        self.write(f"Bye. Resume with: conversation {self.conversation}\n")
        self.record("exit", code=code)
        self.hook("SessionEnd", reason="prompt_input_exit" if code == 0 else "other")
        return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="orchtui-scripted-agent")
    parser.add_argument("--scenario", type=Path, default=None)
    parser.add_argument("--transcript", type=Path, default=None)
    args = parser.parse_args(argv)
    scenario_path = args.scenario or (
        Path(os.environ["ORCHTUI_SCRIPTED_SCENARIO"]) if os.environ.get("ORCHTUI_SCRIPTED_SCENARIO") else None
    )
    hook_file = os.environ.get("ORCHTUI_HOOK_FILE")
    agent = Agent(load_scenario(scenario_path), args.transcript, Path(hook_file) if hook_file else None)
    return run_in_raw_mode(agent.run, agent.leave)


if __name__ == "__main__":
    sys.exit(main())
