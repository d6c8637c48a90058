"""What every verb shares: the per-invocation App, common options, one-line failures."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

import click

if TYPE_CHECKING:  # imported when first used: `orchtui --version` needs none of them
    from orchtui.config import Config
    from orchtui.services.context import Context


class App:
    """Per-invocation state: the config and context are opened on first use."""

    def __init__(self) -> None:
        self._ctx: Context | None = None

    @property
    def ctx(self) -> Context:
        if self._ctx is None:
            from orchtui.config import load_config
            from orchtui.services.context import Context

            self._ctx = Context(load_config())
        return self._ctx

    @property
    def config(self) -> Config:
        return self.ctx.config

    def start_engine(self) -> None:
        """The engine daemon runs (started when it does not)."""
        from orchtui.services import engine_process

        engine_process.ensure_running(self.config)

    def keep_engine(self) -> None:
        """A verb that reads state makes sure the engine runs whenever there is anything
        for it to drive (live sessions, unfinished runs), so nothing queued waits for
        some other command after a crash."""
        from orchtui.domain import RunState

        ctx = self.ctx
        if ctx.records.sessions(live_only=True) or any(not RunState(r.state).final for r in ctx.runs.all()):
            self.start_engine()


pass_app = click.make_pass_decorator(App, ensure=True)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"orchtui: error: {message}", err=True)
    sys.exit(code)
