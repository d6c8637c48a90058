"""Classify an agent's screen into a status with the profile's pattern rules.

Rules are data (see profiles/*.toml). They are tried in order, first match wins;
profiles list busy states first so a stale prompt in the scrollback never hides work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from orchtui.profiles import AgentProfile


@dataclass(frozen=True)
class Verdict:
    state: str | None  # None: no rule matched; the caller keeps the previous status
    rule: int | None = None
    conversation_id: str | None = None
    line: str = ""  # the screen line the rule matched (what the status detail quotes)


@dataclass(frozen=True)
class _Compiled:
    rules: tuple[tuple[str, re.Pattern[str], str, int], ...]
    echo: re.Pattern[str] | None
    conv: re.Pattern[str] | None


def compiled(profile: AgentProfile) -> _Compiled:
    """Compile a profile's rules once and keep them on the profile."""
    cached = profile.compiled_cache
    if isinstance(cached, _Compiled):
        return cached
    rules = tuple((r.state, re.compile(r.regex, re.MULTILINE), r.scope, r.lines) for r in profile.patterns)
    echo = re.compile(profile.prompt_echo) if profile.prompt_echo else None
    conv = re.compile(profile.conversation_id) if profile.conversation_id else None
    result = _Compiled(rules, echo, conv)
    profile.compiled_cache = result
    return result


def _turn(lines: list[str], echo: re.Pattern[str] | None) -> str | None:
    if echo is None:
        return None
    for index in range(len(lines) - 1, -1, -1):
        if echo.search(lines[index]):
            return "\n".join(lines[index + 1 :])
    return None


def _line_of(text: str, match: re.Match[str]) -> str:
    start = text.rfind("\n", 0, match.start()) + 1
    end = text.find("\n", match.end())
    return text[start : end if end >= 0 else len(text)].strip()[:160]


def classify(lines: list[str], profile: AgentProfile) -> Verdict:
    """`lines` is the visible screen, top to bottom."""
    comp = compiled(profile)
    content = [line.rstrip() for line in lines]
    nonblank = [line for line in content if line.strip()]
    turn: str | None = None
    turn_done = False
    conv_id = None
    if comp.conv is not None:
        match = comp.conv.search("\n".join(nonblank[-12:]))
        conv_id = match.group(1) if match and match.groups() else None
    for index, (state, regex, scope, count) in enumerate(comp.rules):
        if scope == "turn":
            if not turn_done:
                turn, turn_done = _turn(content, comp.echo), True
            found = regex.search(turn) if turn is not None else None
            if found is not None and turn is not None:
                return Verdict(state, index, conv_id, _line_of(turn, found))
        else:
            tail = "\n".join(nonblank[-count:])
            if (found := regex.search(tail)) is not None:
                return Verdict(state, index, conv_id, _line_of(tail, found))
    return Verdict(None, None, conv_id)
