"""Capacity is never exceeded: random allocate/release/crash sequences (hypothesis) and
threads racing, against a real SQLite store and the real creation lock."""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from orchtui.config import LimitsConfig
from orchtui.domain import SessionStatus
from orchtui.locks import file_lock
from orchtui.services.capacity import Slot, refusal
from orchtui.store import Store
from orchtui.store.db import now
from orchtui.store.records import Records
from orchtui.store.tables import AgentSession

PROFILES = ["scripted", "claude"]
ROLES = [None, "dev", "review"]


class Book:
    """What session creation does, minus tmux and git: lock, check, insert."""

    def __init__(self, root: Path, limits: LimitsConfig) -> None:
        self.store = Store(f"sqlite:///{root / 'o.db'}")
        self.records = Records(self.store)
        self.lock = root / "create.lock"
        self.limits = limits
        self.projects = [self.records.project_for(f"/repo{i}", f"r{i}", f"t{i}").id or 0 for i in range(3)]
        self.counter = 0

    def live(self) -> list[AgentSession]:
        return self.records.sessions(live_only=True)

    def allocate(self, project: int, profile: str, role: str | None) -> bool:
        with file_lock(self.lock):
            slots = [Slot(r.project_id, r.agent, r.role) for r in self.live()]
            if refusal(self.limits, slots, Slot(project, profile, role)) is not None:
                return False
            self.counter += 1
            at = now()
            self.records.add_session(
                AgentSession(
                    id=f"s{threading.get_ident() % 10000}-{self.counter}",
                    project_id=project,
                    agent=profile,
                    task="t",
                    role=role,
                    status="idle",
                    created_at=at,
                    updated_at=at,
                    status_at=at,
                )
            )
            return True

    def violations(self) -> list[str]:
        live = self.live()
        out = []
        if len(live) > self.limits.max_sessions:
            out.append("machine")
        for project in self.projects:
            n = sum(1 for r in live if r.project_id == project)
            if self.limits.per_project is not None and n > self.limits.per_project:
                out.append(f"project {project}")
        for profile, cap in self.limits.per_profile.items():
            if sum(1 for r in live if r.agent == profile) > cap:
                out.append(f"profile {profile}")
        for role, cap in self.limits.per_role.items():
            if sum(1 for r in live if r.role == role) > cap:
                out.append(f"role {role}")
        return out


class CapacityMachine(RuleBasedStateMachine):
    @initialize(
        machine=st.integers(1, 6),
        project=st.one_of(st.none(), st.integers(1, 4)),
        scripted=st.integers(1, 4),
        dev=st.integers(1, 3),
    )
    def setup(self, machine: int, project: int | None, scripted: int, dev: int) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="orchtui-cap-"))
        limits = LimitsConfig(
            max_sessions=machine,
            per_project=project,
            per_profile={"scripted": scripted},
            per_role={"dev": dev},
        )
        self.book = Book(self.root, limits)

    def teardown(self) -> None:
        if hasattr(self, "book"):
            self.book.store.close()
            shutil.rmtree(self.root, ignore_errors=True)

    @rule(project=st.integers(0, 2), profile=st.sampled_from(PROFILES), role=st.sampled_from(ROLES))
    def allocate(self, project: int, profile: str, role: str | None) -> None:
        self.book.allocate(self.book.projects[project], profile, role)

    @precondition(lambda self: hasattr(self, "book") and self.book.live())
    @rule(index=st.integers(0, 100), how=st.sampled_from(["killed", "exited", "lost"]))
    def end(self, index: int, how: str) -> None:
        """A release (kill) or a crash (the agent exits, or its window vanishes)."""
        live = self.book.live()
        victim = live[index % len(live)]
        self.book.records.update_session(victim.id, status=SessionStatus(how).value)

    @invariant()
    def never_exceeded(self) -> None:
        if hasattr(self, "book"):
            assert self.book.violations() == []


TestCapacity = CapacityMachine.TestCase
TestCapacity.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)


def test_racing_threads_never_exceed_the_limits(tmp_path: Path) -> None:
    book = Book(tmp_path, LimitsConfig(max_sessions=7, per_profile={"scripted": 5}, per_role={"dev": 3}))
    results: list[bool] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        for i in range(6):
            ok = book.allocate(book.projects[n % 3], PROFILES[(n + i) % 2], ROLES[(n * i) % 3])
            with lock:
                results.append(ok)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert book.violations() == []
    assert sum(results) == len(book.live()) <= 7
    assert sum(results) >= 5  # the limits were reached, not just avoided


def test_refusal_says_which_limit() -> None:
    limits = LimitsConfig(max_sessions=10, per_project=2, per_profile={"claude": 1}, per_role={"dev": 1})
    live = [Slot(1, "claude", "dev")]
    assert refusal(limits, live, Slot(1, "claude", None)).message == (  # type: ignore[union-attr]
        "capacity: 1 live session(s) reached limits.per_profile.claude=1"
    )
    assert refusal(limits, live, Slot(2, "scripted", "dev")).message == (  # type: ignore[union-attr]
        "capacity: 1 live session(s) reached limits.per_role.dev=1"
    )
    assert refusal(limits, live, Slot(2, "scripted", "review")) is None
