"""What the tests share besides fixtures: orchtui run as a process (`Orch`), a real git
repository, waiting for a condition, the operator's terminal in tmux. The fixtures
themselves are in orchtui_fixtures.py (a pytest plugin, loaded by conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from libtmux import Server

from orchtui.config import load_config
from orchtui.services import engine_process
from orchtui.services.context import Context
from orchtui.store import Store
from orchtui.store.ledger import Ledger
from orchtui.store.records import Records

FIXTURES = Path(__file__).parent / "fixtures"
SCENARIO = FIXTURES / "scenarios" / "basic.toml"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def init_repo(path: Path) -> Path:
    """A real repository with one commit on `main`."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "dev@example.test")
    git(path, "config", "user.name", "Test Dev")
    (path / "README.md").write_text("# project\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "initial")
    return path


def pane_text(server: Server, target: str = "term") -> str:
    return "\n".join(server.cmd("capture-pane", "-p", "-t", target).stdout)


def run_in_terminal(terminal: Server, orch: Orch, *orchtui_args: str) -> None:
    """Start `orchtui ARGS` in the operator's terminal with this test's environment."""
    env: list[str] = ["-e", "TERM=xterm-256color"]
    for key in ("ORCHTUI_HOME", "ORCHTUI_TMUX_SOCKET", "ORCHTUI_SCRIPTED_SCENARIO", "PATH", "HOME"):
        env += ["-e", f"{key}={orch.env[key]}"]
    terminal.cmd(
        "new-session",
        "-d",
        "-s",
        "term",
        "-x",
        "150",
        "-y",
        "40",
        "-c",
        str(orch.repo),
        *env,
        sys.executable,
        "-m",
        "orchtui",
        *orchtui_args,
    )


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        time.sleep(interval)


@dataclass
class Orch:
    env: dict[str, str]
    repo: Path
    home: Path
    server: Server

    def run(
        self,
        *args: str,
        check: bool = True,
        input: str | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "orchtui", *args],
            cwd=cwd or self.repo,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            input=input,
            timeout=120,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"orchtui {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
        return proc

    @classmethod
    def at(cls, home: Path, repo: Path, server: Server) -> Orch:
        """orchtui with its state in `home`, on `server`'s tmux socket, run in `repo`."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ORCHTUI_", "TMUX"))}
        env.update(
            {
                "ORCHTUI_HOME": str(home),
                "ORCHTUI_TMUX_SOCKET": str(server.socket_name),
                "ORCHTUI_SCRIPTED_SCENARIO": str(SCENARIO),
            }
        )
        return cls(env, repo, home, server)

    def stop_engine(self) -> None:
        """Stop the engine as `orchtui engine stop` does, without a CLI process (teardown
        runs once per test); through the CLI when this test left a config it refuses."""
        try:
            config = load_config(self.repo, dict(self.env))
        except Exception:
            self.run("engine", "stop", check=False)
            return
        engine_process.stop(config)

    def json(self, *args: str, env: dict[str, str] | None = None) -> Any:
        return json.loads(self.run(*args, "--json", env=env).stdout)

    def new(self, task: str, agent: str = "scripted", *extra: str) -> str:
        return self.run("session", "new", "--agent", agent, "--task", task, *extra).stdout.strip()

    def show(self, session_id: str) -> dict[str, Any]:
        return dict(self.json("session", "show", session_id))

    # direct reads of the real SQLite file (faster than a CLI process per poll)
    @property
    def store(self) -> Store:
        return Store(f"sqlite:///{self.home / 'orchtui.db'}")

    def status(self, session_id: str) -> str:
        store = self.store
        try:
            return Records(store).session(session_id).status
        finally:
            store.close()

    def wait_status(self, session_id: str, status: str, timeout: float = 20.0) -> None:
        wait_for(lambda: self.status(session_id) == status, timeout)

    def ledger_rows(self, session_id: str | None = None) -> list[Any]:
        store = self.store
        try:
            return Ledger(store).rows(session_id)
        finally:
            store.close()

    def transcript(self, session_id: str) -> list[dict[str, Any]]:
        path = self.home / "sessions" / session_id / "transcript.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def engine_pid(self) -> int | None:
        out = self.json("engine", "status")
        return int(out["pid"]) if out["running"] else None

    def windows(self) -> list[str]:
        out = self.server.cmd("list-windows", "-a", "-F", "#{window_id}").stdout
        return list(out)


def engine_context(orch: Orch, monkeypatch: pytest.MonkeyPatch) -> Context:
    """This test process as an orchtui client of `orch`'s home, with its engine running."""
    from orchtui.config import load_config
    from orchtui.services import engine_process

    for key, value in orch.env.items():
        if key.startswith("ORCHTUI_"):
            monkeypatch.setenv(key, value)
    monkeypatch.chdir(orch.repo)
    context = Context(load_config(orch.repo))
    engine_process.ensure_running(context.config, cwd=orch.repo)
    return context
