"""Secrets never at rest: 26 formats in prompts, gate output, run details and memory,
and not one stored raw in the database or written to orchtui's logs."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from helpers import Orch, git, wait_for
from orchtui.redact import redact
from orchtui.store.records import Records
from secret_samples import SECRETS


def leaks(text: str) -> list[str]:
    return [name for name, (_written, value) in SECRETS.items() if value in text]


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_each_format_is_masked_in_a_line_of_text(name: str) -> None:
    written, value = SECRETS[name]
    masked = redact(f"before {written} after")
    assert value not in masked and "[REDACTED]" in masked and masked.startswith("before")


def hold(orch: Orch, sid: str, held: bool) -> None:
    """Mark the session taken over (its queue waits) or hand it back, and wake the engine."""
    store = orch.store
    try:
        Records(store).update_session(sid, taken_over=held)
    finally:
        store.close()
    with (orch.home / "run" / "wake").open("a") as fh:
        fh.write("test\n")


def stored_text(orch: Orch) -> str:
    """Everything orchtui keeps as text: a dump of its database, its own logs, memory."""
    conn = sqlite3.connect(orch.home / "orchtui.db")
    try:
        dump = "\n".join(conn.iterdump())
    finally:
        conn.close()
    logs = [p.read_text(errors="replace") for p in orch.home.glob("*.log")]
    memory = [p.read_text(errors="replace") for p in (orch.home / "memory").glob("**/*") if p.is_file()]
    return "\n".join([dump, *logs, *memory])


def test_secrets_in_prompts_gates_runs_and_memory_are_never_stored(orch: Orch, tmp_path: Path) -> None:
    every = "\n".join(written for written, _value in SECRETS.values())
    (orch.repo / "secrets.txt").write_text(every + "\n")
    (orch.repo / "PLAN.md").write_text("# Plan\n\n" + every + "\n")
    git(orch.repo, "add", ".")
    git(orch.repo, "commit", "-q", "-m", "fixtures")

    # a prompt, held while the session is taken over: its payload waits in the store
    sid = orch.new("secrets")
    orch.wait_status(sid, "idle")
    hold(orch, sid, True)
    orch.run("session", "send", sid, "use these:\n" + every, "--no-wait")
    waiting = stored_text(orch)
    assert leaks(waiting) == [], "a queued prompt's payload is stored raw"
    key = orch.home / "orchtui.db.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    hold(orch, sid, False)
    wait_for(lambda: orch.json("ledger", sid)[0]["state"] == "done", timeout=60)
    sent = [e["text"] for e in orch.transcript(sid) if e["type"] == "prompt"]
    assert sent == ["use these:\n" + every], "the agent got the exact text"

    # a run: a role prompt, a passing gate that prints them all (evidence, why, memory),
    # then a failing one whose reason becomes the run's detail
    book = tmp_path / "secrets.yaml"
    book.write_text(
        "stages:\n"
        "  - id: one\n    automation: fully_auto\n"
        "    roles:\n      - role: r\n        agents: [scripted]\n"
        f"        prompt: {SECRETS['stripe_live'][0]} and {SECRETS['github_fine'][0]}\n"
        "    gates:\n      - {type: command, run: cat secrets.txt}\n"
        "  - id: two\n    automation: fully_auto\n    on_failure: stay\n"
        "    roles:\n      - {role: r, agents: [scripted], prompt: again}\n"
        "    gates:\n      - {type: command, run: 'cat secrets.txt; exit 1'}\n"
    )
    orch.run("run", str(book), "--task", "secret-run")
    wait_for(lambda: orch.json("runs")[0]["state"] == "paused", timeout=120, interval=0.5)
    assert (orch.home / "memory").is_dir()
    everything = stored_text(orch)
    assert leaks(everything) == []
    assert "[REDACTED]" in everything
    # pane logs stay raw (the live view needs the bytes) but only the operator can read them
    assert stat.S_IMODE((orch.home / "logs").stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in (orch.home / "logs").glob("*.log")} == {0o600}


def test_a_shared_screen_line_is_redacted_even_where_colours_split_the_secret() -> None:
    """Screens published for other hosts are stored: a line that shows a secret goes
    redacted (its colours dropped, since a colour change inside the secret would hide it)."""
    from orchtui.engine.screens import without_secrets

    token = SECRETS["github_classic"][0]
    split = f"token \x1b[31m{token[:8]}\x1b[0m{token[8:]} end"
    coloured = "\x1b[1mnothing secret here\x1b[0m"
    out = without_secrets([split, coloured])
    assert token[8:] not in out[0] and token[:8] not in out[0] and "end" in out[0]
    assert out[1] == coloured
