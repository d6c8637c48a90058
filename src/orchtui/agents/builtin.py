"""orchtui's own agent on the Anthropic SDK (`orchtui agent`, profile `orchtui`).

It runs in a tmux window like every other agent, with the same screen conventions as the
scripted agent (`» ` prompt, a spinner, `[y/n]` questions, `✔ Done.`), and reports its
status through hook events (the Claude Code names, into `$ORCHTUI_HOOK_FILE`) and its
usage through its JSONL transcript. Two modes, for an optional skill:

- agent (default): a multi-turn tool loop (list/read/write/search files, run_bash), all
  confined to the worktree (agents/tools.py); it stops at the model's end of turn or after
  `--max-iterations` model calls (25). Before `run_bash` it asks, unless allowed
  (`--allow-bash` or `ORCHTUI_AGENT_ALLOW_BASH=1`).
- simple (`--simple`): one request with the skill and the repository's context; the
  answer is shown and written to the skill's `output` file.

The model and base URL come from the config (`[agent]`) and the usual `ANTHROPIC_*`
variables (the SDK reads `ANTHROPIC_API_KEY` and `ANTHROPIC_BASE_URL`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import anthropic
from anthropic.types import MessageParam, ToolResultBlockParam

from orchtui.agents.terminal import TerminalAgent, run_in_raw_mode
from orchtui.agents.tools import TOOLS, ToolError, Workspace
from orchtui.skills import Skill, catalog_for

CONTEXT_FILES = 100  # files listed in the repository context
README_CHARS = 2000


class BuiltinAgent(TerminalAgent):
    def __init__(
        self,
        workspace: Workspace,
        client: anthropic.Anthropic,
        model: str,
        max_iterations: int,
        max_tokens: int,
        allow_bash: bool,
        transcript: Path | None,
        hook_file: Path | None,
        skill: Skill | None,
        simple: bool,
    ) -> None:
        super().__init__(transcript, hook_file)
        self.workspace = workspace
        self.client = client
        self.model = model
        self.max_iterations = max_iterations
        self.max_tokens = max_tokens
        self.allow_bash = allow_bash
        self.skill = skill
        self.simple = simple
        self.calls = 0  # model calls in the current turn

    # signals ----------------------------------------------------------------
    def account(self, message: Any) -> None:
        usage = message.usage
        self.record(
            "usage",
            model=message.model,
            id=message.id,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=getattr(usage, "cache_read_input_tokens", None) or 0,
            cache_write_tokens=getattr(usage, "cache_creation_input_tokens", None) or 0,
        )

    # the loop -----------------------------------------------------------------
    def run(self) -> int:
        self.write("\x1b[?2004h")
        what = f" · skill {self.skill.name}" if self.skill else ""
        self.write(f"orchtui agent · {self.model}{what} · conversation {self.conversation}\n")
        self.write(f"Working in {self.workspace.root}. Type a task and press Enter. Ctrl-D quits.\n\n")
        self.record("start", conversation=self.conversation, cwd=str(self.workspace.root))
        self.hook("SessionStart", source="startup")
        self.show_prompt()
        while True:
            prompt = self.next_prompt()
            self.write("\n")
            if prompt.strip() == "/exit":
                return self.leave(0)
            self.turn(prompt)
            self.show_prompt()

    def turn(self, prompt: str) -> bool:
        """One task, to its end; False when the model call failed."""
        self.record("prompt", text=prompt)
        self.hook("UserPromptSubmit")
        self.record("state", state="working")
        self.spin()
        self.calls = 0
        try:
            self.simple_turn(prompt) if self.simple else self.agent_turn(prompt)
        except (anthropic.APIError, ToolError) as exc:
            message = getattr(exc, "message", None) or str(exc)
            self.clear_line()
            self.write(f"✖ Error: {message}\n")
            self.record("state", state="error")
            self.hook("StopFailure", error=str(message)[:500])
            return False
        self.clear_line()
        self.write("✔ Done.\n")
        self.hook("Stop")
        return True

    def system(self) -> str:
        files = self.workspace.tool_list_files(".").splitlines()[:CONTEXT_FILES]
        readme = self.workspace.root / "README.md"
        parts = [self.skill.body if self.skill else "You are a careful software engineer."]
        parts.append(f"The repository (first {CONTEXT_FILES} files):\n" + "\n".join(files))
        if readme.is_file():
            parts.append("README.md begins:\n" + readme.read_text(errors="replace")[:README_CHARS])
        return "\n\n".join(parts)

    def simple_turn(self, prompt: str) -> None:
        """One request (not streamed); the answer shown and written to the skill's output."""
        response = self.client.messages.create(
            model=self.model,
            max_tokens=self.max_tokens,
            system=self.system(),
            messages=[{"role": "user", "content": prompt}],
        )
        self.account(response)
        text = "".join(block.text for block in response.content if block.type == "text")
        self.clear_line()
        self.write(text.strip() + "\n")
        output = self.skill.meta.output if self.skill else None
        if output:
            self.write("● " + self.workspace.tool_write_file(output, text) + "\n")

    def agent_turn(self, prompt: str) -> None:
        messages: list[MessageParam] = [{"role": "user", "content": prompt}]
        system = self.system()
        while self.calls < self.max_iterations:
            self.calls += 1
            with self.client.messages.stream(
                model=self.model, max_tokens=self.max_tokens, system=system, tools=TOOLS, messages=messages
            ) as stream:
                started = False
                for text in stream.text_stream:
                    if not started:
                        self.clear_line()
                        started = True
                    self.write(text)
                final = stream.get_final_message()
            if started:
                self.write("\n")
            self.account(final)
            messages.append({"role": "assistant", "content": final.content})
            if final.stop_reason != "tool_use":
                return
            results = [self.use_tool(b) for b in final.content if b.type == "tool_use"]
            messages.append({"role": "user", "content": results})
        self.clear_line()
        self.write(f"● Stopped: reached the iteration cap ({self.max_iterations} model calls)\n")
        self.record("capped", iterations=self.max_iterations)

    def use_tool(self, block: Any) -> ToolResultBlockParam:
        name, args = block.name, dict(block.input or {})
        shown = ", ".join(f"{k}={str(v)[:60]!r}" for k, v in args.items() if k != "content")
        self.clear_line()
        self.write(f"● {name}({shown})\n")
        if name == "run_bash" and not self.allow_bash:
            self.hook("PermissionRequest", tool_name=name)
            if not self.ask_yes(f"Allow run_bash: {str(args.get('command', ''))[:120]}"):
                self.hook("PostToolUse", tool_name=name)
                return {
                    "type": "tool_result",
                    "tool_use_id": block.id,
                    "content": "refused by the operator",
                    "is_error": True,
                }
            self.record("state", state="working")
        self.hook("PreToolUse", tool_name=name)
        try:
            out, error = self.workspace.call(name, args), False
        except ToolError as exc:
            out, error = str(exc), True
        first = out.strip().splitlines()[0] if out.strip() else ""
        self.write(f"  {'✖' if error else '→'} {first[:100]}\n")
        self.hook("PostToolUse", tool_name=name)
        self.spin()
        return {"type": "tool_result", "tool_use_id": block.id, "content": out, "is_error": error}

    def leave(self, code: int) -> int:
        self.clear_line()
        self.write(f"Bye. conversation {self.conversation}\n")
        self.record("exit", code=code)
        self.hook("SessionEnd")
        return code


def main(argv: list[str] | None = None) -> int:
    from orchtui.config import load_config

    parser = argparse.ArgumentParser(prog="orchtui agent", description=__doc__.split("\n\n")[0])
    parser.add_argument("--skill", default=None, help="a skill from the catalog (its instructions lead)")
    parser.add_argument("--worktree", type=Path, default=Path.cwd())
    parser.add_argument("--simple", action="store_true", help="one request; the answer to the skill's output")
    parser.add_argument("--max-iterations", type=int, default=None)
    parser.add_argument("--allow-bash", action="store_true", help="run_bash without asking")
    parser.add_argument("--model", default=None)
    parser.add_argument("--prompt", default=None, help="run this one task and exit (no terminal UI)")
    parser.add_argument("--transcript", type=Path, default=None)
    args = parser.parse_args(argv)
    config = load_config(args.worktree).agent
    skill = None
    if args.skill:
        skill = catalog_for(args.worktree.resolve()).get(args.skill)
        if skill is None:
            print(f"orchtui agent: error: no skill {args.skill!r}", file=sys.stderr)
            return 2
    hook_file = os.environ.get("ORCHTUI_HOOK_FILE")
    if not (os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN")):
        print(
            "orchtui agent: error: no API key: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) "
            "in the environment that starts orchtui",
            file=sys.stderr,
        )
        return 2
    try:
        client = anthropic.Anthropic(base_url=config.base_url) if config.base_url else anthropic.Anthropic()
    except anthropic.AnthropicError as exc:
        print(f"orchtui agent: error: {exc}", file=sys.stderr)
        return 2
    agent = BuiltinAgent(
        Workspace(args.worktree),
        client,
        args.model
        or os.environ.get("ORCHTUI_AGENT_MODEL")
        or os.environ.get("ANTHROPIC_MODEL")
        or config.model,
        args.max_iterations or config.max_iterations,
        config.max_tokens,
        args.allow_bash or os.environ.get("ORCHTUI_AGENT_ALLOW_BASH") == "1",
        args.transcript,
        Path(hook_file) if hook_file else None,
        skill,
        args.simple,
    )
    if args.prompt is not None:
        return 0 if agent.turn(args.prompt) else 1
    return run_in_raw_mode(agent.run, agent.leave)


if __name__ == "__main__":
    sys.exit(main())
