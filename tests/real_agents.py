"""Running the real agent CLIs offline: where `.ci/run` installed them, a throwaway HOME
set up the way each client needs, and the fake LLM server they talk to.

Clients live in `<repo>/.clients` (or `$ORCHTUI_CLIENTS`): npm packages under `npm/`,
aider in its own virtual environment `aider/`. A client that is not there is skipped
with the reason, never passed.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fakellm import FakeLLM
from helpers import Orch, pane_text, wait_for
from orchtui.pricing import Price, PriceTable
from orchtui.services.context import project_slug
from orchtui.store.records import Records

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = Path(os.environ.get("ORCHTUI_CLIENTS", ROOT / ".clients"))
BINS = {
    "claude": CLIENTS / "npm" / "node_modules" / ".bin" / "claude",
    "codex": CLIENTS / "npm" / "node_modules" / ".bin" / "codex",
    "aider": CLIENTS / "aider" / "bin" / "aider",
    "gemini": CLIENTS / "npm" / "node_modules" / ".bin" / "gemini",
}
API_KEY = "sk-test-orchtui-0123456789abcdef"


def require(client: str) -> Path:
    path = BINS[client]
    if not path.exists():
        pytest.skip(f"{client} is not installed in {CLIENTS} (run .ci/run, which installs it)")
    return path


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    server = FakeLLM().start()
    yield server
    server.stop()


@dataclass
class RealAgent:
    orch: Orch
    fake: FakeLLM
    home: Path  # the agent's throwaway HOME
    client: str

    def worktree(self, task: str) -> Path:
        return (self.orch.home / "worktrees" / project_slug(self.orch.repo) / task).resolve()

    def new(self, task: str) -> str:
        prepare_project(self, self.worktree(task))
        out = self.orch.json("session", "new", "--agent", self.client, "--task", task)
        return str(out["id"])

    def screen(self, sid: str) -> str:
        """The agent's pane as tmux shows it now (read from the store, no CLI process)."""
        store = self.orch.store
        try:
            pane = Records(store).session(sid).tmux_pane
        finally:
            store.close()
        return pane_text(self.orch.server, pane or "")

    def wait(self, sid: str, predicate: Callable[[], object], timeout: float = 60.0) -> None:
        """wait_for, with the agent's screen in the failure message."""
        try:
            wait_for(predicate, timeout)
        except AssertionError as exc:
            log = self.orch.home / "engine.log"
            tail = "\n".join(log.read_text().splitlines()[-25:]) if log.exists() else "(no engine log)"
            raise AssertionError(
                f"{exc}; status {self.orch.status(sid)}; screen:\n{self.screen(sid)}\nengine log:\n{tail}"
            ) from None

    def send(self, sid: str, text: str) -> None:
        self.orch.run("session", "send", sid, text, "--no-wait")

    def status_follows_screen(self, sid: str, pattern: str, status: str, timeout: float = 60.0) -> float:
        """Wait until the screen shows `pattern` and orchtui says `status`; return how
        long orchtui's status lagged behind the screen (negative: it knew first)."""
        regex = re.compile(pattern, re.MULTILINE)
        seen_screen = seen_status = None
        end = time.monotonic() + timeout
        while time.monotonic() < end and (seen_screen is None or seen_status is None):
            now = time.monotonic()
            if seen_status is None and self.orch.status(sid) == status:
                seen_status = now
            if seen_screen is None and regex.search(self.screen(sid)):
                seen_screen = now
            time.sleep(0.05)
        assert seen_screen is not None, f"screen never showed {pattern!r}:\n{self.screen(sid)}"
        assert seen_status is not None, f"status never became {status} (is {self.orch.status(sid)})"
        print(f"{self.client} {status}: status {1000 * (seen_status - seen_screen):+.0f} ms after the screen")
        return seen_status - seen_screen

    def expected_cost(
        self, protocol: str, model: str, extra: dict[str, Price] | None = None
    ) -> tuple[float, int]:
        """What the fake server's billed replies cost by orchtui's price table."""
        table = PriceTable.load(extra)
        calls = [r for r in self.fake.billed(protocol) if r.kind in ("turn", "tool-done")]
        total = 0.0
        for reply in calls:
            u = reply.usage
            if protocol == "gemini":  # Gemini counts cached tokens inside the prompt's count
                total += table.cost(
                    model, u["input_tokens"], u["output_tokens"], u["cache_read_input_tokens"]
                )
            elif protocol == "anthropic":
                total += table.cost(
                    model,
                    u["input_tokens"],
                    u["output_tokens"],
                    u["cache_read_input_tokens"],
                    u["cache_creation_input_tokens"],
                )
            else:  # OpenAI: cached tokens are counted inside input_tokens
                total += table.cost(
                    model,
                    u["input_tokens"] - u["cache_read_input_tokens"],
                    u["output_tokens"],
                    u["cache_read_input_tokens"],
                )
        return total, len(calls)


def real_agent(orch: Orch, fake: FakeLLM, tmp_path: Path, client: str) -> RealAgent:
    """Point `orch` at a throwaway HOME and the fake server for `client`."""
    bin_dir = require(client).parent
    home = tmp_path / "agent-home"
    home.mkdir()
    env = orch.env
    env["HOME"] = str(home)
    env["PATH"] = f"{bin_dir}:{env['PATH']}" if client != "aider" else f"{env['PATH']}:{bin_dir}"
    env.update(
        {
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1",
            "CLAUDE_CODE_TMPDIR": str(tmp_path / "claude-tmp"),
            "ANTHROPIC_BASE_URL": fake.url,
            "ANTHROPIC_API_KEY": API_KEY,
            "FAKE_API_KEY": API_KEY,
            "NO_UPDATE_NOTIFIER": "1",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "AIDER_MODEL": "openai/fake",
            "AIDER_OPENAI_API_BASE": f"{fake.url}/v1",
            "AIDER_OPENAI_API_KEY": API_KEY,
            "AIDER_MODEL_METADATA_FILE": str(home / "model_metadata.json"),
            "AIDER_SHOW_MODEL_WARNINGS": "false",
            "AIDER_GITIGNORE": "false",
            "AIDER_CHECK_UPDATE": "false",
            "AIDER_ANALYTICS_DISABLE": "true",
            "GEMINI_API_KEY": API_KEY,
            "GOOGLE_GEMINI_BASE_URL": fake.url,  # plain http is allowed for 127.0.0.1
        }
    )
    for key in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "ANTHROPIC_AUTH_TOKEN",
        "CODEX_HOME",
        "CLAUDE_CONFIG_DIR",
        "GOOGLE_API_KEY",
        "GOOGLE_CLOUD_PROJECT",
        "GOOGLE_GENAI_USE_VERTEXAI",
    ):
        env.pop(key, None)
    agent = RealAgent(orch, fake, home, client)
    if client == "claude":
        _write_json(
            home / ".claude.json",
            {
                "hasCompletedOnboarding": True,
                "customApiKeyResponses": {"approved": [API_KEY[-20:]], "rejected": []},
                "projects": {},
            },
        )
    elif client == "gemini":
        # What a user who chose API-key sign-in once has; folder trust and update checks off.
        _write_json(
            home / ".gemini" / "settings.json",
            {
                "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": False}},
                "privacy": {"usageStatisticsEnabled": False},
                "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
                "ui": {"hideTips": True},
            },
        )
    elif client == "aider":
        _write_json(
            home / "model_metadata.json",
            {
                "openai/fake": {
                    "max_tokens": 8192,
                    "max_input_tokens": 128000,
                    "max_output_tokens": 8192,
                    "input_cost_per_token": 0.000003,
                    "output_cost_per_token": 0.000015,
                    "litellm_provider": "openai",
                    "mode": "chat",
                }
            },
        )
    return agent


def prepare_project(agent: RealAgent, worktree: Path) -> None:
    """What a user who has used the client in this folder before would have on disk."""
    home = agent.home
    if agent.client == "claude":
        state = json.loads((home / ".claude.json").read_text())
        state["projects"][str(worktree)] = {
            "hasTrustDialogAccepted": True,
            "hasCompletedProjectOnboarding": True,
        }
        _write_json(home / ".claude.json", state)
    elif agent.client == "codex":
        config = home / ".codex" / "config.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        if not config.exists():
            config.write_text(
                'model = "fake-model"\nmodel_provider = "fake"\ncheck_for_update_on_startup = false\n\n'
                f'[model_providers.fake]\nname = "fake"\nbase_url = "{agent.fake.url}/v1"\n'
                'env_key = "FAKE_API_KEY"\nwire_api = "responses"\n\n[analytics]\nenabled = false\n'
            )
        table = f'[projects."{worktree}"]'
        if table not in config.read_text():  # (a second table of the same name is an error)
            with config.open("a") as fh:
                fh.write(f'\n{table}\ntrust_level = "trusted"\n')


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def statuses(orch: Orch, sid: str) -> list[str]:
    """Every status the session went through, in order."""
    return [e["data"]["new"] for e in orch.json("events", sid) if e["kind"] == "status"]


def went_through(seen: list[str], *path: str) -> bool:
    """`path` appears in `seen` in order (other statuses may sit between)."""
    it = iter(seen)
    return all(any(s == step for s in it) for step in path)


def wait_status(orch: Orch, sid: str, status: str, timeout: float = 60.0) -> None:
    wait_for(lambda: orch.status(sid) == status, timeout)
