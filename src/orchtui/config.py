"""Configuration: pydantic models, loaded from TOML files and `ORCHTUI_*` variables.

Layers, later wins: built-in defaults, the user file (platformdirs config path, or
`$ORCHTUI_HOME/config.toml`, or `$ORCHTUI_CONFIG`), the repository's
`.orchtui.toml`, then environment variables. `ORCHTUI_HOME`, `ORCHTUI_TMUX_SOCKET`
and `ORCHTUI_DB_URL` are shortcuts; any field can be set as
`ORCHTUI_<SECTION>__<FIELD>` (e.g. `ORCHTUI_DELIVERY__RETRIES=3`).
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import socket
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from orchtui import paths, trust
from orchtui.domain import MCP_TOOLS
from orchtui.errors import ConfigError, Untrusted
from orchtui.gitpolicy import GitPolicy
from orchtui.inputs import parse_toml
from orchtui.names import outside_heads
from orchtui.pricing import Price


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TmuxConfig(_Section):
    socket: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    width: int = Field(default=200, ge=40, le=1000)
    height: int = Field(default=50, ge=10, le=500)
    history_limit: int = Field(default=5000, ge=100)
    log_cap_mb: int = Field(default=16, ge=1, le=4096)  # a pane log past this is rotated (one old part kept)
    # one key (no prefix) that detaches a takeover from orchtui's tmux: inside the user's
    # own tmux, whose prefix is usually the same C-b, the prefix would reach the outer one
    detach_key: str = Field(default="C-q", pattern=r"^(?:(?:C|M)-[a-z0-9\]]|F(?:[1-9]|1[0-2]))$")


class StoreConfig(_Section):
    url: str | None = None  # any SQLAlchemy URL; default: SQLite file in ORCHTUI_HOME
    # the key that seals queued prompts; for a database shared by several hosts, the same
    # file on each (default: beside a SQLite file, else ORCHTUI_HOME/payload.key)
    key_file: Path | None = None


class WorktreeConfig(_Section):
    root: Path | None = None
    branch_prefix: str = "orchtui/"
    setup_command: str | None = None  # run in each new worktree (by the user's shell)
    setup_timeout: float = Field(default=300.0, gt=0)
    copy_files: list[str] = Field(default_factory=list)  # untracked files to copy in, e.g. .env

    @field_validator("branch_prefix")
    @classmethod
    def _prefix_stays_in_heads(cls, value: str) -> str:
        if (
            outside_heads(value)
            or value.startswith("-")
            or ".." in value
            or any(c in value for c in " ~^:?*[\\")
        ):
            raise ValueError(
                "must start a plain branch name (not refs/…, -, HEAD, or git's special characters)"
            )
        return value


class DeliveryConfig(_Section):
    verify_timeout: float = Field(default=5.0, gt=0, le=120)
    retries: int = Field(default=2, ge=0, le=10)
    # a delivered prompt whose turn never starts (no hook, no working screen, no marker) fails after this
    turn_timeout: float = Field(default=30.0, gt=0, le=3600)


@functools.cache
def _machine_name() -> str:
    """The host name cut to safe characters, asked once per process (a snapshot of 500
    sessions asks 500 times)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", socket.gethostname()).strip("-.")[:63] or "host"


class WorkerConfig(_Section):
    """This host in a fleet of engines sharing one database (docs/architecture.md)."""

    name: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
    )  # default: the host name
    address: str | None = None  # how other hosts reach it (ssh); default: the host name
    heartbeat: float = Field(default=15.0, ge=0.5, le=300)
    stale_after: float = Field(default=60.0, ge=2, le=3600)
    # how a takeover reaches another host's tmux: this argv, then the host's address, then
    # the tmux command (quoted for the remote shell); `ssh_for` overrides it per host name
    ssh: list[str] = Field(default_factory=lambda: ["ssh", "-t"], min_length=1)
    ssh_for: dict[str, list[str]] = Field(default_factory=dict)
    # how often a watched session's screen is published for viewers on other hosts, at
    # most (a second); published only when it changed, and only while someone watches
    screen_rate: float = Field(default=2.0, gt=0, le=20)


class EngineConfig(_Section):
    reconcile_interval: float = Field(default=5.0, ge=0.5)
    debounce_ms: int = Field(default=10, ge=1, le=2000)  # a change waits this long for the rest of its burst
    step_ms: int = Field(default=2, ge=1, le=500)  # only without inotify: how often watchfiles looks


class EventsConfig(_Section):
    # a command (argv, no shell) that receives each event of at least `hook_severity` as JSON on stdin
    hook: list[str] = Field(default_factory=list)
    hook_severity: Literal["info", "notice", "warning", "error", "critical"] = "notice"
    stuck_after: float = Field(default=300.0, gt=0)  # seconds of silence while working
    retry_warn_after: float = Field(default=60.0, gt=0)  # seconds of API-error retries before agent.retrying


NotifyKind = Literal["waiting", "error", "exited", "approval"]
NOTIFY_KINDS: tuple[NotifyKind, ...] = ("waiting", "error", "exited", "approval")


class NotifyConfig(_Section):
    """How orchtui calls the operator when an agent starts waiting, errors or exits
    unexpectedly, or a run waits for approval (services/notify.py)."""

    kinds: list[NotifyKind] = Field(default_factory=lambda: list(NOTIFY_KINDS))
    bell: bool = True  # the terminal bell (the dashboard's terminal)
    terminal: bool = True  # a desktop notification through the terminal: OSC 9 and OSC 777
    desktop: bool = True  # notify-send, where it is installed (the engine; works headless)
    group_seconds: float = Field(default=1.0, ge=0.0, le=60.0)  # news this close together: one notification
    min_interval: float = Field(default=10.0, ge=0.0, le=3600.0)  # at most one notification this often


class McpConfig(_Section):
    """`orchtui mcp`: which tools a client may call, by group or name (see docs/mcp.md)."""

    allow: list[str] = Field(default_factory=lambda: ["*"])

    @field_validator("allow")
    @classmethod
    def _known_tools(cls, value: list[str]) -> list[str]:
        known = {"*", *MCP_TOOLS, *(tool for tools in MCP_TOOLS.values() for tool in tools)}
        for name in value:
            if name not in known:
                raise ValueError(f"{name!r} is not a tool or group (groups: {', '.join(MCP_TOOLS)})")
        return value

    def allowed(self) -> set[str]:
        every = {tool for tools in MCP_TOOLS.values() for tool in tools}
        if "*" in self.allow:
            return every
        return {tool for name in self.allow for tool in MCP_TOOLS.get(name, (name,))}


class ServeConfig(_Section):
    """`orchtui serve`: where it listens and the token every request needs (see docs/web.md).
    Without a token here, each start makes a new one and prints it once."""

    host: str = "127.0.0.1"
    port: int = Field(default=8766, ge=1, le=65535)
    token: str | None = Field(default=None, min_length=16)
    public_url: str | None = None  # the address browsers use, when a proxy (TLS) is in front


class LimitsConfig(_Section):
    max_sessions: int = Field(default=100, ge=1)
    per_project: int | None = Field(default=None, ge=1)
    per_profile: dict[str, int] = Field(default_factory=dict)
    per_role: dict[str, int] = Field(default_factory=dict)
    per_host: dict[str, int] = Field(default_factory=dict)  # a fleet's hosts (`orchtui hosts`) by name
    # agents run this much nicer than orchtui (Unix niceness): on a full CPU statuses and
    # keys stay quick; 0 runs them as orchtui runs
    agent_nice: int = Field(default=5, ge=0, le=19)


class BudgetConfig(_Section):
    """US dollars. At `warn_at` of a budget an event warns; at 100 % new prompts pause."""

    session: float | None = Field(default=None, gt=0)
    run: float | None = Field(default=None, gt=0)
    day: float | None = Field(default=None, gt=0)
    warn_at: float = Field(default=0.8, gt=0, lt=1)


class AgentConfig(_Section):
    """orchtui's own agent (`orchtui agent`); ANTHROPIC_API_KEY/ANTHROPIC_BASE_URL also apply."""

    model: str = Field(default="claude-sonnet-4-5", min_length=1)
    base_url: str | None = None
    max_iterations: int = Field(default=25, ge=1, le=500)
    max_tokens: int = Field(default=4096, ge=1, le=200000)


# the dashboard's remappable actions (the ids of ui/keys.py's bindings; a test keeps them equal)
KEY_ACTIONS = [
    "new_session",
    "send_prompt",
    "queue_prompt",
    "take_over",
    "approve",
    "reject",
    "next_waiting",
    "kill",
    "restart",
    "fork",
    "details",
    "approve_run",
    "reject_run",
    "approval_details",
    "memory",
    "pause_run",
    "retry_run",
    "cancel_run",
    "race",
    "diff",
    "skills",
    "hosts",
    "filter",
    "toggle_archived",
    "archive_ended",
    "help",
    "quit",
]


def _did_you_mean(value: str, known: list[str]) -> str:
    near = difflib.get_close_matches(value, known, n=1)
    return f"; did you mean {near[0]!r}?" if near else f" (known: {', '.join(known)})"


class UiConfig(_Section):
    theme: str = Field(default="orchtui", pattern=r"^[A-Za-z0-9_-]{1,64}$")

    @field_validator("theme")
    @classmethod
    def _known_theme(cls, value: str) -> str:
        known = sorted(p.stem for p in paths.shipped("themes").glob("*.toml"))
        if value not in known:
            raise ValueError(f"no theme {value!r}{_did_you_mean(value, known)}")
        return value


class Config(_Section):
    home: Path = Field(default_factory=paths.default_home)
    tmux: TmuxConfig = Field(default_factory=TmuxConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    worktrees: WorktreeConfig = Field(default_factory=WorktreeConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    ui: UiConfig = Field(default_factory=UiConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    mcp: McpConfig = Field(default_factory=McpConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    worker: WorkerConfig = Field(default_factory=WorkerConfig)
    budgets: BudgetConfig = Field(default_factory=BudgetConfig)
    git: GitPolicy = Field(default_factory=GitPolicy)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    pricing: dict[str, Price] = Field(default_factory=dict)
    # dashboard key remapping: binding id -> key(s), e.g. {new_session = "ctrl+n"}
    keys: dict[str, str] = Field(default_factory=dict)

    @field_validator("keys")
    @classmethod
    def _known_actions(cls, value: dict[str, str]) -> dict[str, str]:
        for action in value:
            if action not in KEY_ACTIONS:
                raise ValueError(f"no dashboard action {action!r}{_did_you_mean(action, KEY_ACTIONS)}")
        return value

    profile_dirs: list[Path] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list, exclude=True)
    # a repository's settings that would run something, left out until trusted (orchtui/trust.py):
    # setting -> (its file, its value)
    untrusted: dict[str, tuple[str, Any]] = Field(default_factory=dict, exclude=True)

    def refuse_untrusted(self, setting: str) -> None:
        """Raise the one-line refusal when a repository set `setting` without being trusted."""
        if setting in self.untrusted:
            source, value = self.untrusted[setting]
            raise Untrusted(trust.refusal(source, setting, value), Path(source))

    @property
    def state(self) -> paths.StatePaths:
        return paths.StatePaths(self.home)

    @property
    def socket_name(self) -> str:
        return self.tmux.socket or paths.default_socket_name(self.home)

    @property
    def host(self) -> str:
        """This host's name in the fleet: `[worker] name`, else the host name (cut to safe characters)."""
        if self.worker.name:
            return self.worker.name
        return _machine_name()

    @property
    def db_url(self) -> str:
        return self.store.url or f"sqlite:///{self.state.db_file}"

    @property
    def worktree_root(self) -> Path:
        return (self.worktrees.root or self.state.worktrees).expanduser().resolve()


_SHORTCUTS = {
    "ORCHTUI_HOME": ("home",),
    "ORCHTUI_TMUX_SOCKET": ("tmux", "socket"),
    "ORCHTUI_DB_URL": ("store", "url"),
}
_NOT_FIELDS = {"ORCHTUI_CONFIG", "ORCHTUI_SCRIPTED_SCENARIO"}
_TOP_LEVEL = {"profile_dirs"}


def _read_toml(path: Path) -> dict[str, Any]:
    return parse_toml(path)


def _env_value(raw: str) -> Any:
    """Environment values are TOML values when they parse as one, else strings."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _set(tree: dict[str, Any], keys: tuple[str, ...], value: Any) -> None:
    for key in keys[:-1]:
        node = tree.setdefault(key, {})
        if not isinstance(node, dict):
            node = tree[key] = {}
        tree = node
    tree[keys[-1]] = value


def _merge(into: dict[str, Any], layer: dict[str, Any], source: str, prov: dict[str, str], pre: str) -> None:
    for key, value in layer.items():
        dotted = f"{pre}{key}"
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value, source, prov, dotted + ".")
        else:
            into[key] = value
        prov[dotted] = source
        if isinstance(value, dict):
            for sub in value:
                prov[f"{dotted}.{sub}"] = source


def _env_layer(environ: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    layers: list[tuple[str, dict[str, Any]]] = []
    for name, raw in sorted(environ.items()):
        if not name.startswith("ORCHTUI_") or name in _NOT_FIELDS:
            continue
        if name in _SHORTCUTS:
            keys = _SHORTCUTS[name]
            value: Any = raw
        elif "__" in name:
            keys = tuple(part.lower() for part in name[len("ORCHTUI_") :].split("__"))
            value = _env_value(raw)
        elif name[len("ORCHTUI_") :].lower() in _TOP_LEVEL:
            keys = (name[len("ORCHTUI_") :].lower(),)
            value = _env_value(raw)
        else:
            continue
        tree: dict[str, Any] = {}
        _set(tree, keys, value)
        layers.append((f"${name}", tree))
    return layers


def load_config(cwd: Path | None = None, environ: dict[str, str] | None = None) -> Config:
    """Load and validate every layer; errors name the file (or variable) and the field."""
    env = dict(os.environ if environ is None else environ)
    layers: list[tuple[str, dict[str, Any]]] = []
    user_file = paths.user_config_file()
    if user_file.is_file():
        layers.append((str(user_file), _read_toml(user_file)))
    repo_file = paths.find_repo_config((cwd or Path.cwd()).resolve())
    untrusted: dict[str, tuple[str, Any]] = {}
    if repo_file is not None:
        repo_layer = _read_toml(repo_file)
        if trust.executing(repo_layer) and not trust.is_trusted(repo_file, trust.home(env)):
            untrusted = {k: (str(repo_file), v) for k, v in trust.withhold(repo_layer).items()}
        layers.append((str(repo_file), repo_layer))
    layers.extend(_env_layer(env))

    merged: dict[str, Any] = {}
    prov: dict[str, str] = {}
    for source, layer in layers:
        _merge(merged, layer, source, prov, "")
    try:
        config = Config.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        source = _source_of(field, prov)
        raise ConfigError(f"{source}: {field}: {err['msg']}") from None
    config.sources = [source for source, _ in layers]
    config.untrusted = untrusted
    return config


def _source_of(field: str, prov: dict[str, str]) -> str:
    parts = field.split(".")
    while parts:
        hit = prov.get(".".join(parts))
        if hit:
            return hit
        parts.pop()
    return "config"


def policy_for(repo_root: Path, checks: bool = False) -> GitPolicy:
    """The `[git]` policy of one repository: the user file, that repository's own
    `.orchtui.toml`, then `ORCHTUI_GIT__*` variables (one engine serves many repositories).
    With `checks` (a merge is about to run them): refused while the repository's own
    `required_checks` are not trusted, rather than merging without them."""
    config = load_config(repo_root)
    if checks:
        config.refuse_untrusted("git.required_checks")
    return config.git
