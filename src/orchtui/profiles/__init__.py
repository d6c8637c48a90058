"""Agent profiles: data that tells orchtui how to launch, drive and read an agent CLI.

Built-in profiles ship as TOML beside this module; users add or override them with
TOML files in `<config dir>/profiles/` or any folder listed in `profile_dirs`.
The format is documented in docs/agent-profiles.md.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from orchtui.errors import ConfigError, UsageError
from orchtui.inputs import parse_toml
from orchtui.names import PROFILE_RE

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

BUILTIN_DIR = Path(__file__).parent

State = Literal["working", "waiting", "error", "idle", "exited"]
PLACEHOLDERS = frozenset({"python", "worktree", "session_id", "session_dir", "task", "home"})


def _compile(value: str, flags: int = re.MULTILINE) -> re.Pattern[str]:
    try:
        return re.compile(value, flags)
    except re.error as exc:
        raise ValueError(f"invalid regex {value!r}: {exc}") from None


# The drivers a profile may name; orchtui.drivers.DRIVERS implements exactly these.
DRIVER_NAMES = frozenset({"screen", "claude", "codex", "aider", "gemini", "orchtui"})


class PatternRule(BaseModel):
    """One screen rule. Rules are tried in file order; the first match wins.

    scope `tail`: the last `lines` non-blank lines of the screen.
    scope `turn`: everything below the last line matching the profile's `prompt_echo`.
    """

    model_config = ConfigDict(extra="forbid")
    state: State
    regex: str
    scope: Literal["tail", "turn"] = "tail"
    lines: int = Field(default=6, ge=1, le=500)

    @field_validator("regex")
    @classmethod
    def _valid_regex(cls, value: str) -> str:
        _compile(value)
        return value


class SubmitConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["bracketed_paste", "keys"] = "bracketed_paste"
    enter_key: str = "Enter"
    delay: float = Field(default=0.4, ge=0.0, le=10.0)


class AnswerKeys(BaseModel):
    """tmux key names, space-separated, sent in order (e.g. "y Enter", "1", "Escape")."""

    model_config = ConfigDict(extra="forbid")
    approve: str = "y"
    reject: str = "n"


class AgentProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    driver: str = "screen"
    command: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    pass_env: list[str] = Field(default_factory=list)
    unset_env: list[str] = Field(default_factory=list)  # names removed from the agent's environment
    needs_env: list[str] = Field(default_factory=list)  # one of these must be set for it to start (a key)
    install: str = ""  # how to install its program, said when it is missing
    submit: SubmitConfig = Field(default_factory=SubmitConfig)
    answers: AnswerKeys = Field(default_factory=AnswerKeys)
    prompt_echo: str | None = None
    patterns: list[PatternRule] = Field(default_factory=list)
    completion_marker: str | None = None
    conversation_id: str | None = None  # regex with one group, read from the screen
    retrying: str | None = None  # regex for the agent's API-error retry line (status stays working)
    turn_output: str | None = None  # regex for output only a turn prints: the turn has run
    clear_input: str | None = None  # tmux keys that empty the agent's input line (crash recovery)
    source: str = Field(default="", exclude=True)
    _compiled: Any = PrivateAttr(default=None)

    @property
    def compiled_cache(self) -> Any:
        return self._compiled

    @compiled_cache.setter
    def compiled_cache(self, value: Any) -> None:
        self._compiled = value

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not PROFILE_RE.match(value):
            raise ValueError("use 1-32 of a-z 0-9 _ -")
        return value

    @field_validator("pass_env", "unset_env", "needs_env")
    @classmethod
    def _valid_env_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not an environment variable name")
        return value

    @field_validator("driver")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if value not in DRIVER_NAMES:
            raise ValueError(f"unknown driver {value!r} (known: {', '.join(sorted(DRIVER_NAMES))})")
        return value

    @field_validator("prompt_echo", "completion_marker", "conversation_id", "retrying", "turn_output")
    @classmethod
    def _valid_optional_regex(cls, value: str | None) -> str | None:
        if value is not None:
            _compile(value)
        return value

    @model_validator(mode="after")
    def _valid_command(self) -> AgentProfile:
        for arg in [*self.command, *self.env.values()]:
            for name in re.findall(r"\{([^{}]*)\}", arg):
                if name not in PLACEHOLDERS:
                    raise ValueError(
                        f"unknown placeholder {{{name}}} (known: {', '.join(sorted(PLACEHOLDERS))})"
                    )
        return self

    @property
    def executable(self) -> str:
        return self.command[0]

    def installed(self) -> bool:
        exe = self.executable
        return exe == "{python}" or shutil.which(exe) is not None

    def missing(self, env: Mapping[str, str]) -> str | None:
        """Why this agent cannot start with `env`, or None: its program is not on PATH, or
        none of the variables it needs (an API key) is set."""
        if not self.installed():
            how = f" ({self.install})" if self.install else ""
            return (
                f"{self.executable} is not installed (not on PATH){how}; install it or choose another agent"
            )
        if self.needs_env and not any(env.get(name) for name in self.needs_env):
            return f"it needs {' or '.join(self.needs_env)} in the environment"
        return None

    @property
    def shown_command(self) -> str:
        """The program as it runs ({python} filled in)."""
        return sys.executable if self.executable == "{python}" else self.executable

    def render(self, values: dict[str, str]) -> tuple[list[str], dict[str, str]]:
        """The argv and environment for a launch. Each argument stays one argument:
        nothing is joined into a shell string."""
        argv = [arg.format(**values) for arg in self.command]
        env = {k: v.format(**values) for k, v in self.env.items()}
        return argv, env


def _load_file(path: Path) -> AgentProfile:
    data = parse_toml(path)
    data.setdefault("name", path.stem)
    try:
        profile = AgentProfile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "profile"
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{path}: {field}: {msg}") from None
    profile.source = str(path)
    return profile


class ProfileRegistry:
    """All known profiles: built-ins first, then user folders (which may override)."""

    def __init__(self, folders: list[Path], withheld: Callable[[], None] | None = None) -> None:
        """`withheld` raises the refusal for profile folders a repository named but the
        operator has not trusted: an unknown name may be one of theirs."""
        self._withheld = withheld
        self._profiles: dict[str, AgentProfile] = {}
        for folder in [BUILTIN_DIR, *folders]:
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.toml")):
                profile = _load_file(path)
                self._profiles[profile.name] = profile

    def get(self, name: str) -> AgentProfile:
        try:
            return self._profiles[name]
        except KeyError:
            if self._withheld is not None:
                self._withheld()
            known = ", ".join(sorted(self._profiles))
            raise UsageError(f"unknown agent profile {name!r} (known: {known})") from None

    def all(self) -> list[AgentProfile]:
        return [self._profiles[k] for k in sorted(self._profiles)]


def user_profile_dirs(config_profile_dirs: list[Path]) -> list[Path]:
    from orchtui import paths

    return [paths.user_config_file().parent / "profiles", *config_profile_dirs]
