"""Capacity: limits per machine, per project, per agent profile and per role.

`refusal()` is a pure function of the limits and the live sessions; callers hold the
creation lock (Store.creation_lock: an fcntl lock on this host and, on a shared PostgreSQL,
an advisory lock every host takes) while they check and then insert, so concurrent
requests from any number of processes, on any number of hosts, can never exceed a limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from orchtui.config import LimitsConfig


@dataclass(frozen=True)
class Slot:
    project_id: int
    profile: str
    role: str | None
    host: str | None = None  # the worker it runs on (None: this one, or recorded before hosts were)


@dataclass(frozen=True)
class Refusal:
    limit: str  # machine | host | project | profile | role
    key: str
    used: int
    cap: int

    @property
    def message(self) -> str:
        where = {
            "machine": "limits.max_sessions",
            "project": "limits.per_project",
            "profile": f"limits.per_profile.{self.key}",
            "role": f"limits.per_role.{self.key}",
            "host": f"limits.per_host.{self.key}",
        }[self.limit]
        return f"capacity: {self.used} live session(s) reached {where}={self.cap}"


def refusal(limits: LimitsConfig, live: Iterable[Slot], want: Slot) -> Refusal | None:
    slots = list(live)
    here = sum(1 for s in slots if want.host is None or s.host in (None, want.host))
    if here >= limits.max_sessions:  # a machine's limit: each host of a fleet has its own
        return Refusal("machine", "machine", here, limits.max_sessions)
    if want.host is not None and (cap := limits.per_host.get(want.host)) is not None and here >= cap:
        return Refusal("host", want.host, here, cap)
    same_project = sum(1 for s in slots if s.project_id == want.project_id)
    if limits.per_project is not None and same_project >= limits.per_project:
        return Refusal("project", str(want.project_id), same_project, limits.per_project)
    cap = limits.per_profile.get(want.profile)
    same_profile = sum(1 for s in slots if s.profile == want.profile)
    if cap is not None and same_profile >= cap:
        return Refusal("profile", want.profile, same_profile, cap)
    if want.role is not None and (cap := limits.per_role.get(want.role)) is not None:
        same_role = sum(1 for s in slots if s.role == want.role)
        if same_role >= cap:
            return Refusal("role", want.role, same_role, cap)
    return None
