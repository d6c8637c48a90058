"""The environment a run's agents take: their profiles' `pass_env` variables as the shell
that started the run had them, not as the engine had them when it started hours before.

The values cross from `orchtui run` to the engine in a file only the user can read
(mode 0600, in the state's run directory), deleted as the engine reads it, at once when it
runs and at its start otherwise. They stay in the engine's memory; the store keeps the
names only (the run's `env_names`). After an engine restart the values are gone: the
engine's own environment is used for those names, and the run says so once."""

from __future__ import annotations

import json
import os
from pathlib import Path

from orchtui.services.context import Context
from orchtui.services.events import emit
from orchtui.store.tables import Run


def _handover(ctx: Context, run_id: str) -> Path:
    return ctx.config.state.run / f"env-{run_id}.json"


def hand_over(ctx: Context, run_id: str) -> list[str]:
    """From the command that starts the run, before the run exists (the engine may pick
    it up at once): every profile's pass_env variable set here, for the engine. Returns
    the names, for `record_names` once the run is stored."""
    names = sorted({name for profile in ctx.profiles.all() for name in profile.pass_env})
    values = {name: os.environ[name] for name in names if name in os.environ}
    path = _handover(ctx, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(values, fh)
    return list(values)


def record_names(ctx: Context, run_id: str, names: list[str]) -> None:
    ctx.runs.update(run_id, env_names=",".join(names))


class RunEnv:
    """The engine's side: the values handed over, per run, in memory only."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.values: dict[str, dict[str, str]] = {}
        self.warned: set[str] = set()
        self.looked: set[str] = set()  # runs whose hand-over was read (or was not there)

    def take(self, run_id: str) -> None:
        """Read the run's hand-over once: it is written before the run exists, so the
        first look finds it if there is one."""
        if run_id in self.looked:
            return
        self.looked.add(run_id)
        path = _handover(self.ctx, run_id)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        finally:
            path.unlink(missing_ok=True)
        try:
            loaded = json.loads(text)
        except ValueError:
            return
        if isinstance(loaded, dict):
            self.values[run_id] = {str(k): str(v) for k, v in loaded.items()}

    def for_agent(self, run: Run, pass_env: list[str]) -> dict[str, str]:
        """The values this run's agent of a profile with `pass_env` takes."""
        self.take(run.id)
        values = self.values.get(run.id)
        if values is None:
            recorded = self.ctx.runs.get(run.id).env_names or ""
            lost = [name for name in recorded.split(",") if name in pass_env]
            if lost and run.id not in self.warned:
                self.warned.add(run.id)
                emit(
                    self.ctx,
                    "run.env_lost",
                    f"run {run.id}: {', '.join(lost)} came from the shell that started the run; after an "
                    "engine restart the engine's own environment is used for them",
                    "warning",
                    run=run.id,
                )
            return {}
        return {name: values[name] for name in pass_env if name in values}

    def forget(self, run_id: str) -> None:
        self.values.pop(run_id, None)
        self.looked.discard(run_id)
        _handover(self.ctx, run_id).unlink(missing_ok=True)
