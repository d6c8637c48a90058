"""The dashboard's keys: each with its name (footer, palette) and what it does in words
(`?` help, the palette). The footer shows only what fits at 80 columns; the rest are in
`?` and the palette. Keys are remapped by id in the config's `[keys]`."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Key:
    key: str
    action: str  # also the binding's id (what `[keys]` remaps)
    name: str
    what: str
    footer: bool = False


KEYS: tuple[Key, ...] = (
    Key("n", "new_session", "New", "Start an agent on a new task, in its own worktree and branch", True),
    Key("s", "send_prompt", "Send", "Send a prompt to the selected agent now, even while it works", True),
    Key(
        "u",
        "queue_prompt",
        "Queue",
        "Queue a prompt for the selected agent: it is sent once the agent is idle",
    ),
    Key(
        "t",
        "take_over",
        "Take over",
        "Attach to the selected agent's terminal and type to it yourself (Enter does the same); "
        "detach with the key its status line shows",
        True,
    ),
    Key("a", "approve", "Approve", "Answer the selected agent's permission prompt with yes"),
    Key("r", "reject", "Reject", "Answer the selected agent's permission prompt with no"),
    Key("w", "next_waiting", "Waiting", "Jump to the next agent waiting for you", True),
    Key("k", "kill", "Kill", "Stop the selected agent (asks first; its branch is kept)", True),
    Key(
        "f",
        "fork",
        "Fork",
        "A new agent on a new branch from the selected one's, with a copy of its conversation",
    ),
    Key("R", "restart", "Restart", "Start an ended agent again in its worktree, resuming its conversation"),
    Key("d", "details", "Details", "Swap the output for the queue, worktrees, gates and cost tabs", True),
    Key("y", "approve_run", "Approve stage", "Approve the run's pending stage transition", True),
    Key("x", "reject_run", "Reject stage", "Reject the run's pending stage transition, with a reason", True),
    Key("o", "approval_details", "Approval details", "All the pending approval shows: plan, evidence, diff"),
    Key("m", "memory", "Memory", "The run's memory: what its stages wrote down for the next ones"),
    Key("p", "pause_run", "Pause/resume run", "Pause the selected session's run, or resume it"),
    Key("G", "retry_run", "Retry stage", "Run the stage that stopped the run again (a new attempt)"),
    Key("C", "cancel_run", "Cancel run", "Cancel the selected session's run (asks first)"),
    Key("c", "race", "Race", "The run's race side by side: gates, diff, cost, time, score; p picks"),
    Key("v", "diff", "Diff", "The selected session's changes against its base: files, hunks, comments"),
    Key("S", "skills", "Skills", "The skill catalog: where each skill comes from, its trust, vetting"),
    Key("H", "hosts", "Hosts", "The fleet's hosts: heartbeat, sessions against capacity, load, agents"),
    Key(
        "slash",
        "filter",
        "Filter",
        "Filter sessions: words, or status:, agent:, run:, repo:, task:, host: (Esc clears)",
    ),
    Key("A", "toggle_archived", "Archived", "Show or hide archived sessions"),
    Key("E", "archive_ended", "Archive ended", "Archive every ended session (A shows them again)"),
    Key("question_mark", "help", "Help", "Every key and what it does (this list)", True),
    Key("q", "quit", "Quit", "Leave the dashboard; the agents keep running", True),
)


def bindings() -> list[Binding | tuple[str, str] | tuple[str, str, str]]:
    return [Binding(k.key, k.action, k.name, show=k.footer, id=k.action, tooltip=k.what) for k in KEYS]
