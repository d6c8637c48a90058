"""Calling the operator: when an agent starts waiting, errors, exits unexpectedly, or a
run waits for approval. News is grouped (what arrives within `group_seconds` is one
notification) and rate-limited (at most one per `min_interval`; what comes meanwhile
waits and is grouped into the next), so 28 agents failing at once call once.

The policy is here; the outlets are the dashboard (bell, OSC 9 / OSC 777 through the
terminal, passed through tmux; the count in the terminal title) and the engine
(notify-send, the count in orchtui's tmux status line). Both follow the store."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from orchtui.config import NotifyConfig
from orchtui.domain import SessionStatus

WORDS = {
    "waiting": "waiting for you",
    "error": "failed",
    "exited": "ended unexpectedly",
    "approval": "approval",
}


@dataclass(frozen=True)
class News:
    kind: str  # waiting | error | exited | approval
    what: str  # who: "d4e5f6 claude fix-login", or "run 01ab: start merge"


@dataclass(frozen=True)
class Call:
    """One notification: a title and a line."""

    title: str
    body: str
    count: int


def who(session_id: str, agent: str, task: str) -> str:
    """How a notification names a session: its id first (grouped calls list the ids)."""
    return f"{session_id} {agent} {task}"


def news_of(old: str | None, new: str, exit_code: int | None, what: str) -> News | None:
    """What a session's status change says to the operator, if anything. An agent that
    exits by itself with 0, or is killed by orchtui, is not news."""
    if old == new or old is None:
        return None
    status = SessionStatus(new)
    if status is SessionStatus.WAITING:
        return News("waiting", what)
    if status is SessionStatus.ERROR:
        return News("error", what)
    if status is SessionStatus.LOST or (status is SessionStatus.EXITED and exit_code not in (0, None)):
        return News("exited", what)
    return None


@dataclass
class Notifier:
    config: NotifyConfig
    pending: list[News] = field(default_factory=list)
    first_at: float = 0.0
    last_call: float | None = None

    def add(self, news: News, at: float) -> None:
        if news.kind not in self.config.kinds:
            return
        if not self.pending:
            self.first_at = at
        self.pending.append(news)

    def next_due(self, at: float) -> float | None:
        """Seconds until the pending news may be called (None: nothing pending)."""
        if not self.pending:
            return None
        ready = self.first_at + self.config.group_seconds
        if self.last_call is not None:
            ready = max(ready, self.last_call + self.config.min_interval)
        return max(0.0, ready - at)

    def due(self, at: float) -> Call | None:
        """The grouped notification, once it may go."""
        wait = self.next_due(at)
        if wait is None or wait > 0:
            return None
        news, self.pending = self.pending, []
        self.last_call = at
        return grouped(news)


def grouped(news: list[News]) -> Call:
    if len(news) == 1:
        one = news[0]
        if one.kind == "approval":
            return Call("orchtui: approval needed", one.what, 1)
        return Call(f"orchtui: {one.what.split()[0]} {WORDS[one.kind]}", one.what, 1)
    kinds = Counter(n.kind for n in news)
    parts = ", ".join(f"{count} {WORDS[kind]}" for kind, count in kinds.most_common())
    who = ", ".join(n.what.split()[0] for n in news[:6]) + (" …" if len(news) > 6 else "")
    return Call(f"orchtui: {len(news)} need you", f"{parts}: {who}", len(news))


def osc(call: Call, inside_tmux: bool) -> str:
    """The terminal's desktop notification (OSC 9, and OSC 777 for terminals that take
    that one) and a bell; inside tmux, wrapped so tmux passes them to the outer terminal."""
    title, body = _clean(call.title), _clean(call.body)
    sequences = [f"\x1b]9;{title}: {body}\x1b\\", f"\x1b]777;notify;{title};{body}\x1b\\"]
    if inside_tmux:
        sequences = ["\x1bPtmux;" + s.replace("\x1b", "\x1b\x1b") + "\x1b\\" for s in sequences]
    return "".join(sequences)


def title_sequence(waiting: int) -> str:
    """The terminal's title, with the count of agents waiting (OSC 2)."""
    return f"\x1b]2;orchtui{f' · {waiting} waiting' if waiting else ''}\x1b\\"


def _clean(text: str) -> str:
    """Printable text only: a name cannot end the sequence or start another."""
    return "".join(ch if ch.isprintable() and ch not in ";\x1b\x07" else " " for ch in text)[:200]
