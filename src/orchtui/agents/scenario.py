"""Scenario files for the scripted agent (TOML). See docs/agent-profiles.md."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class Step(BaseModel):
    """One thing the agent does. Exactly one action key per step."""

    model_config = ConfigDict(extra="forbid")
    work: float | None = Field(default=None, ge=0, le=3600)  # seconds of "thinking"
    hang: float | None = Field(default=None, ge=0, le=3600)  # seconds of silence while working (a hung agent)
    say: str | None = None  # print a reply line ({prompt} is the first prompt line)
    ask: str | None = None  # permission question; waits for y/n
    write: str | None = None  # file path relative to the cwd
    content: str = ""
    commit: str | None = None  # git add -A; git commit -m
    git: list[str] | None = None  # run git with these arguments (no shell); prints the exit status
    run: list[str] | None = None  # run this argv (as a real agent's tool call would); prints the exit status
    stream: int | None = Field(default=None, ge=1, le=100000)  # lines of streamed output
    interval: float = Field(default=0.02, ge=0, le=10)
    fail: str | None = None  # end the turn with an error
    exit: int | None = Field(default=None, ge=0, le=255)
    api_error: int | None = Field(default=None, ge=400, le=599)  # an API error, retried like real agents
    retries: int = Field(default=3, ge=0, le=20)  # with api_error: retries before it gives up or recovers
    backoff: float = Field(default=0.5, ge=0, le=60)  # with api_error: first delay, doubling, at most 8 s
    recover: bool = True  # with api_error: the last retry succeeds (else the turn fails)
    usage: tuple[int, int] | None = None  # input, output tokens for this turn
    flash: str | None = None  # a line shown for `flash_for` seconds, then erased (a redraw in passing)
    flash_for: float = Field(default=0.1, ge=0, le=10)


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    match: str = ""  # regex searched in the prompt; "" matches everything
    steps: list[Step] = Field(default_factory=list)

    @field_validator("match")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regex: {exc}") from None
        return value


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "default"
    startup: float = Field(default=0.0, ge=0, le=60)
    # Behaving like the real CLIs: each is off by default.
    turn_delay: float = Field(
        default=0.0, ge=0, le=60
    )  # Enter → turn start; the empty prompt shows meanwhile
    hooks: bool = False  # write Claude Code hook events to $ORCHTUI_HOOK_FILE
    hook_lead: float = Field(default=0.0, ge=0, le=10)  # hooks fire this long before the screen redraws
    stale_spinner: bool = False  # a question leaves the spinner line on screen above it
    program_status: bool = False  # report its state in OSC 7501 program-status sequences, as Codex does
    late_error: float = Field(
        default=0.0, ge=0, le=10
    )  # a failed turn redraws the prompt first, the error this long after
    rule: list[Rule] = Field(default_factory=list)

    def rule_for(self, prompt: str) -> Rule:
        for rule in self.rule:
            if re.search(rule.match, prompt):
                return rule
        return DEFAULT_RULE


DEFAULT_RULE = Rule(steps=[Step(work=1.0), Step(say="Echo: {prompt}")])


def load_scenario(path: Path | None) -> Scenario:
    if path is None:
        return Scenario()
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SystemExit(f"scenario {path}: {exc}") from None
    data.setdefault("name", path.stem)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise SystemExit(f"scenario {path}: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None
