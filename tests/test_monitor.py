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


def test_a_turn_too_fast_to_be_seen_working_is_still_seen_by_its_output(tmp_path: Path) -> None:
    """aider prints `Tokens: … sent, … received` after every reply: a turn that went from
    prompt to prompt between two reads still counts as having run."""
    log = tmp_path / "a.log"
    log.write_bytes(b"")
    monitor = Monitor("a", ProfileRegistry([]).get("aider"), log, "%1", "idle", cols=80, rows=10)
    with log.open("ab") as fh:
        fh.write(b"> hello\r\n\r\nHi there.\r\n\r\nTokens: 770 sent, 13 received. Cost: $0.0025 message.\r\n")
    monitor.turn_seen = False  # Enter was just pressed
    monitor.read_new()
    assert monitor.turn_seen and monitor.turn_news
    monitor.turn_news = False
    with log.open("ab") as fh:
        fh.write(b"Tokens: 9 sent, 1 received.\r\n> ")
    monitor.read_new()
    assert monitor.turn_seen and not monitor.turn_news  # news only once per turn


def test_a_synchronized_update_is_open_until_it_ends_even_split_across_reads() -> None:
    """Between `CSI ? 2026 h` and `CSI ? 2026 l` an agent is drawing one frame (Codex
    draws every frame so): the screen is half-drawn and says nothing yet."""
    screen = VirtualScreen(40, 5)
    screen.feed(b"\x1b[?2026h\x1b[2J\x1b[Hhalf")
    assert screen.frame_open
    screen.feed(b" a frame\x1b[?20")  # the end, split across two reads
    assert screen.frame_open
    screen.feed(b"26l")
    assert not screen.frame_open and screen.lines()[0] == "half a frame"
    screen.feed(b"\x1b[?2026l\x1b[?2026h")  # the last one counts
    assert screen.frame_open


def test_an_error_report_holds_until_the_agent_reports_work_even_split_across_reads(tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    log.write_bytes(b"")
    monitor = Monitor("s", ProfileRegistry([]).get("codex"), log, "%1", "working", cols=40, rows=10)
    for piece, expected in (
        (b"\x1b]7501;state=working:app=codex\x1b\\", False),
        (b"x\x1b]75", False),
        (b"01;state=err", False),
        (b"or:app=codex\x1b\\", True),  # one report across three reads
        (
            b"\x1b]7501;state=idle:app=codex\x07\x1b]7501;state=done\x07",
            True,
        ),  # back at its prompt: still an error
        (b"\x1b]7501;state=blocked:app=codex:kind=permission\x1b\\", False),
        (b"\x1b]7501;state=error\x07" + b"y" * 5000, True),
        (b"\x1b]7501;state=working\x07", False),
    ):
        with log.open("ab") as fh:
            fh.write(piece)
        monitor.read_new()
        assert monitor.reported_error is expected, piece
