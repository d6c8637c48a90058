"""What a new user is told when no coding-agent CLI is installed: which are missing (the
new-session form and `orchtui doctor` give the command that installs each, from the
profiles' `install`), instead of orchtui quietly reaching for its scripted test agent."""

from __future__ import annotations

from orchtui.profiles import AgentProfile


def missing_agents_hint(profiles: list[AgentProfile], installed: dict[str, bool]) -> str | None:
    """None when at least one coding-agent CLI is installed; else what to say."""
    clis = [p for p in profiles if p.install]
    if not clis or any(installed.get(p.name, False) for p in clis):
        return None
    names = ", ".join(p.name for p in clis)
    return (
        f"None of {names} is installed: n shows how to install each, and `orchtui doctor` "
        "lists them. orchtui's own agent needs ANTHROPIC_API_KEY."
    )
