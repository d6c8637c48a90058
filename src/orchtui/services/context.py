"""Everything a command or the engine needs, opened once from the configuration."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from orchtui.config import Config
from orchtui.pricing import PriceTable
from orchtui.profiles import ProfileRegistry, user_profile_dirs
from orchtui.runtime.tmux import Tmux
from orchtui.store import Store
from orchtui.store.host_actions import HostActions
from orchtui.store.ledger import Ledger
from orchtui.store.merges import Merges
from orchtui.store.races import Races
from orchtui.store.records import Records
from orchtui.store.runs import Runs
from orchtui.store.screens import Screens
from orchtui.store.usage import UsageBook
from orchtui.store.workers import Workers


@dataclass
class Context:
    config: Config

    @cached_property
    def store(self) -> Store:
        self.config.state.ensure()
        url, key = self.config.db_url, self.config.store.key_file
        if key is None and not url.startswith("sqlite:"):  # a SQLite file keeps its key beside it
            key = self.config.home / "payload.key"
        return Store(url, key_file=key.expanduser() if key is not None else None)

    @cached_property
    def records(self) -> Records:
        return Records(self.store)

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.store)

    @cached_property
    def runs(self) -> Runs:
        return Runs(self.store)

    @cached_property
    def workers(self) -> Workers:
        return Workers(self.store)

    @cached_property
    def host_actions(self) -> HostActions:
        return HostActions(self.store)

    @cached_property
    def races(self) -> Races:
        return Races(self.store)

    @cached_property
    def screens(self) -> Screens:
        return Screens(self.store)

    @cached_property
    def merges(self) -> Merges:
        return Merges(self.store)

    @cached_property
    def usage(self) -> UsageBook:
        return UsageBook(self.store)

    @cached_property
    def prices(self) -> PriceTable:
        return PriceTable.load(self.config.pricing)

    @cached_property
    def profiles(self) -> ProfileRegistry:
        config = self.config
        return ProfileRegistry(
            user_profile_dirs(config.profile_dirs),
            withheld=lambda: config.refuse_untrusted("profile_dirs"),
        )

    @cached_property
    def tmux(self) -> Tmux:
        cfg = self.config.tmux
        state = self.config.state
        return Tmux(
            self.config.socket_name,
            state.tmux_conf,
            state.tmux_events,
            cfg.width,
            cfg.height,
            cfg.history_limit,
            cfg.detach_key,
        )

    def wake_engine(self, reason: str, host: str | None = None) -> None:
        """Tell the engine (if running) to look at the store again; with a shared store,
        the other hosts' engines too, or only `host`'s when the change concerns it alone
        (a prompt for its session), so that 100 prompts do not wake every worker 100 times."""
        state = self.config.state
        state.run.mkdir(parents=True, exist_ok=True)
        with state.wake_file.open("a", encoding="utf-8") as fh:
            fh.write(reason + "\n")
        if host != self.config.host:  # other hosts' engines (PostgreSQL: NOTIFY)
            self.store.notify(f"{self.config.host} {host or '*'} {reason}")


def project_slug(path: Path) -> str:
    """A tmux-safe, path-safe name for a repository: its folder name and a short hash."""
    base = re.sub(r"[^a-z0-9_-]+", "-", path.name.lower()).strip("-") or "repo"
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:6]
    return f"{base[:24]}-{digest}"
