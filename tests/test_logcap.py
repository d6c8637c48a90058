"""Pane logs stay within their cap: rotated by size while the engine follows them, and
removed with the session's cleanup."""

from __future__ import annotations

import stat
from pathlib import Path

from helpers import Orch, wait_for
from orchtui.paths import StatePaths
from orchtui.services import pane_logs
from orchtui.tail import last_bytes, read_after

MB = 1024 * 1024


def test_a_log_past_its_cap_is_rotated_and_the_engine_keeps_following(orch: Orch) -> None:
    orch.home.mkdir(parents=True, exist_ok=True)
    (orch.home / "config.toml").write_text("[tmux]\nlog_cap_mb = 1\n")
    state = StatePaths(orch.home)
    sid = orch.new("flood")
    orch.wait_status(sid, "idle")
    orch.run("session", "send", sid, "flood the log")
    wait_for(lambda: orch.ledger_rows(sid)[-1].state == "done", timeout=120)
    assert state.rotated_log(sid).exists()
    base = pane_logs.read_base(state, sid)
    assert base >= MB
    assert state.log_file(sid).stat().st_size < 2 * MB
    for path in (state.log_file(sid), state.rotated_log(sid)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Nothing dropped on disk at the switch: the old part ends where the new one starts.
    joined = last_bytes([state.rotated_log(sid), state.log_file(sid)], 10 * MB)
    assert b"flood finished" in joined
    numbers = [
        int(line.split(b"streaming line ")[1].split(b"/")[0])
        for line in joined.split(b"\n")
        if b"streaming line " in line
    ]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))

    # The engine still reads the new log: a prompt after the rotation has its turn.
    orch.run("session", "send", sid, "after the rotation")
    wait_for(lambda: orch.ledger_rows(sid)[-1].state == "done")
    # A restarted engine picks the new log up where it left off (offsets count from launch).
    orch.run("engine", "stop")
    orch.run("session", "send", sid, "after the restart")
    wait_for(lambda: orch.ledger_rows(sid)[-1].state == "done")
    shown = [e["text"] for e in orch.transcript(sid) if e["type"] == "prompt"]
    assert shown[-2:] == ["after the rotation", "after the restart"]

    orch.run("session", "kill", sid, "--force")
    wait_for(lambda: not state.session_logs(sid))


def test_read_after_starts_again_on_a_rotated_file(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"0123456789")
    data, offset = read_after(log, 4)
    assert (data, offset) == (b"456789", 10)
    log.write_bytes(b"new")  # replaced by a shorter file
    assert read_after(log, offset) == (b"new", 3)
    assert read_after(tmp_path / "missing.log", 7) == (b"", 7)


def test_last_bytes_reaches_back_into_the_rotated_part(tmp_path: Path) -> None:
    old, new = tmp_path / "a.log.1", tmp_path / "a.log"
    old.write_bytes(b"abcdef")
    new.write_bytes(b"gh")
    assert last_bytes([old, new], 5) == b"defgh"
    assert last_bytes([old, new], 1) == b"h"
    assert last_bytes([tmp_path / "none", new], 9) == b"gh"
