"""The test suite's fixtures, as a pytest plugin (conftest.py loads it): a real git
repository, a second tmux server standing for the operator's terminal, and orchtui run
as a process against the libtmux plugin's `server` (a real tmux on its own socket).

Every test is marked by what it needs: `e2e` when it starts tmux or orchtui processes,
`fast` otherwise (units: `pytest -m fast` runs them alone in seconds)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from libtmux import Server
from libtmux.exc import LibTmuxException

from helpers import Orch, init_repo

E2E_FIXTURES = {
    "orch",
    "settled_orch",
    "server",
    "session",
    "terminal",
    "postgres_url",
    "postgres_server",
    "fleet",
}
# modules whose tests take 30 s to 2 min each: started first, so that with several workers
# (pytest -n) the suite does not end waiting on one of them begun last
LONG_FIRST = ("test_restart.py", "test_conformance.py", "test_multihost.py", "test_supervisor.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        needs = set(getattr(item, "fixturenames", ()))
        item.add_marker(pytest.mark.e2e if needs & E2E_FIXTURES else pytest.mark.fast)
    items.sort(key=lambda item: item.path.name not in LONG_FIRST)  # stable: the rest keep their order


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return init_repo(tmp_path / "project")


@pytest.fixture
def terminal() -> Iterator[Server]:
    """A second tmux server whose pane `term` stands for the operator's terminal."""
    server = Server(socket_name=f"orchtui-term-{uuid.uuid4().hex[:8]}")
    yield server
    if server.is_alive():
        with contextlib.suppress(LibTmuxException):  # it may end by itself as its last pane closes
            server.kill()


@pytest.fixture
def orch(tmp_path: Path, server: Server, repo: Path) -> Iterator[Orch]:
    o = Orch.at(tmp_path / "home", repo, server)
    yield o
    o.stop_engine()


@pytest.fixture(scope="module")
def settled_orch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orch]:
    """One orchtui (its own repository and tmux server) shared by a module's tests, each
    of which leaves it as it found it: for the many cases that check one thing is refused
    and nothing changed."""
    tmp = tmp_path_factory.mktemp("settled")
    server = Server(socket_name=f"orchtui-settled-{uuid.uuid4().hex[:8]}")
    o = Orch.at(tmp / "home", init_repo(tmp / "project"), server)
    yield o
    o.stop_engine()
    if server.is_alive():
        with contextlib.suppress(LibTmuxException):
            server.kill()
