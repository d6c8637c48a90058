"""The dashboard's `/` filter: words that must all match a session.

`status:waiting`, `agent:claude`, `run:01ab`, `repo:api` and `task:login` match that
field (a prefix of it; `status:` also takes `live` and `ended`); any other word matches
part of the session's id, task, agent, status, branch, repository or run. Case is
ignored."""

from __future__ import annotations

from dataclasses import dataclass

from orchtui.domain import SessionStatus
from orchtui.services.dashboard import SessionView

FIELDS = ("status", "agent", "run", "repo", "task", "host")


@dataclass(frozen=True)
class SessionFilter:
    words: tuple[str, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> SessionFilter:
        words: list[str] = []
        fields: list[tuple[str, str]] = []
        for word in text.lower().split():
            name, sep, value = word.partition(":")
            if sep and name in FIELDS and value:
                fields.append((name, value))
            else:
                words.append(word)
        return cls(tuple(words), tuple(fields))

    def __bool__(self) -> bool:
        return bool(self.words or self.fields)

    def matches(self, view: SessionView) -> bool:
        for name, value in self.fields:
            if name == "status" and value in ("live", "ended"):
                if SessionStatus(view.status).live != (value == "live"):
                    return False
                continue
            have = {
                "status": view.status,
                "agent": view.agent,
                "run": view.run_id or "",
                "repo": view.repo,
                "task": view.task,
                "host": view.host or "",
            }[name].lower()
            if not have.startswith(value):
                return False
        if not self.words:
            return True
        text = " ".join(
            (
                view.id,
                view.task,
                view.agent,
                view.status,
                view.branch or "",
                view.repo,
                view.run_id or "",
                view.host or "",
            )
        ).lower()
        return all(word in text for word in self.words)
