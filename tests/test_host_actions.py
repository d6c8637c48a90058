"""Host actions on a real PostgreSQL server: claimed once however many processes claim at
the same moment, each claimer in the order they were asked; an action claimed by a worker
that died is failed at its restart, never carried out twice."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from orchtui.store.db import Store
from orchtui.store.host_actions import HostActions


def test_concurrent_claims_take_each_action_once_and_in_order(postgres_url: str, tmp_path: Path) -> None:
    store = Store(postgres_url, key_file=tmp_path / "payload.key")
    actions = HostActions(store)
    asked = [actions.add("gamma", "kill", f"s{i}", "{}", "op").id for i in range(60)]
    actions.add("delta", "kill", "other", "{}", "op")
    taken: list[list[int]] = [[] for _ in range(4)]
    start = threading.Barrier(len(taken))

    def claimer(out: list[int]) -> None:
        mine = HostActions(Store(postgres_url, key_file=tmp_path / "payload.key"))
        start.wait()
        while (action := mine.claim("gamma")) is not None:
            assert action.state == "running" and action.id is not None
            out.append(action.id)

    threads = [threading.Thread(target=claimer, args=(out,)) for out in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(i for out in taken for i in out) == asked, "every action claimed exactly once"
    assert all(out == sorted(out) for out in taken), "each claimer took them in the order asked"
    assert sum(1 for out in taken if out) >= 2, "the claimers really ran side by side"
    assert actions.claim("gamma") is None
    other = actions.claim("delta")
    assert other is not None and other.session_id == "other", "another host's action is not gamma's"


def test_an_action_claimed_by_a_worker_that_died_is_failed_not_repeated(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchtui.config import load_config
    from orchtui.engine.actions import abandon_unfinished
    from orchtui.services.context import Context

    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(f'[worker]\nname = "gamma"\n[store]\nurl = "{postgres_url}"\n')
    monkeypatch.setenv("ORCHTUI_HOME", str(home))
    ctx = Context(load_config(tmp_path))
    assert ctx.config.host == "gamma" and ctx.store.shared
    first = ctx.host_actions.add("gamma", "kill", "s1", "{}", "op")
    second = ctx.host_actions.add("gamma", "kill", "s2", "{}", "op")
    claimed = ctx.host_actions.claim("gamma")
    assert claimed is not None and claimed.id == first.id
    # the worker dies here; started again, it fails what it had claimed and keeps the rest
    assert abandon_unfinished(ctx) == 1
    assert first.id is not None and second.id is not None
    dead = ctx.host_actions.get(first.id)
    assert dead.state == "failed" and "stopped while carrying it out" in (dead.result or "")
    assert ctx.host_actions.get(second.id).state == "queued"
    again = ctx.host_actions.claim("gamma")
    assert again is not None and again.id == second.id
