"""The terminal view and completion markers, fed from a real log file."""

from __future__ import annotations

from pathlib import Path

from orchtui.engine.monitor import Monitor
from orchtui.profiles import ProfileRegistry
from orchtui.screen.vt import VirtualScreen, strip_ansi


def test_screen_follows_cursor_movement_and_erases() -> None:
    screen = VirtualScreen(40, 5)
    screen.feed(b"hello\r\nworld\x1b[1;1Hj\x1b[2;1H\x1b[2Kagain")
    assert screen.lines()[:2] == ["jello", "again"]


def test_markers_found_once_even_split_across_reads(tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    log.write_bytes(b"")
    monitor = Monitor("s", ProfileRegistry([]).get("scripted"), log, "%1", "idle", cols=40, rows=10)
    with log.open("ab") as fh:
        fh.write("working\r\n\x1b[2K✔ Do".encode())
    monitor.read_new()
    assert monitor.markers_seen == 0
    with log.open("ab") as fh:
        fh.write("ne.\r\n» ".encode())
    monitor.read_new()
    assert monitor.markers_seen == 1
    monitor.read_new()  # nothing new: still one
    assert monitor.markers_seen == 1
    assert monitor.verdict().state == "idle"


def test_strip_ansi() -> None:
    assert strip_ansi(b"\x1b[1;31mred\x1b[0m\r\n\x1b]0;title\x07ok") == "red\nok"


def test_private_csi_sequences_and_hostile_bytes_never_stop_the_screen() -> None:
    """Gemini CLI sends `CSI ? 4 m`; pyte passes private=True to handlers that do not take
    it, which raised and killed the engine. Such sequences are dropped; any byte soup
    leaves the screen working."""
    import random

    screen = VirtualScreen(40, 5)
    screen.feed(b"\x1b[?4mone\x1b[?5Atwo\x1b[?1;2m")
    assert screen.lines()[0] == "onetwo"
    rng = random.Random(7)
    for _ in range(200):
        screen.feed(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))))
    screen.feed(b"\x1b[0m\x1b[2J\x1b[Hstill alive")
    assert screen.lines()[0] == "still alive"
